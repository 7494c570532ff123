"""An erasure reaches the audit trail too: the trail is append-only for staff, and the one
rewrite it allows is this scrub, inside the erasure's own transaction (a member hook)."""

from contextvars import ContextVar

from auditlog.models import LogEntry
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Q

from loyalty.audit.registry import AUDITED_MODELS
from loyalty.base.personal import Personal

# The person being erased in this transaction: the erasure's own writes (a text blanked) would
# otherwise record the old value again.
_erasing: ContextVar[Personal | None] = ContextVar("audit_erasing", default=None)


def scrub_while_erasing(sender, instance, **kwargs):
    """pre_save of a record: during an erasure, no personal value of that person goes in."""
    personal = _erasing.get()
    if personal is not None:
        instance.changes = personal.scrub_json(instance.changes)
        instance.changes_text = personal.scrub(instance.changes_text)
        instance.additional_data = personal.scrub_json(instance.additional_data)
        instance.serialized_data = None


def _own_records(member) -> Q:
    """Records of the member, their user, and the audited objects that belong to them."""
    own = Q(content_type=ContentType.objects.get_for_model(member), object_pk=str(member.pk)) | Q(
        content_type=ContentType.objects.get_for_model(member.user),
        object_pk=str(member.user_id),
    )
    for dotted in AUDITED_MODELS:
        try:
            model = apps.get_model(dotted)
        except LookupError:
            continue
        field = next((f for f in model._meta.concrete_fields if f.name == "member"), None)
        if field is None or field.related_model is not type(member):
            continue
        pks = [
            str(pk)
            for pk in model._default_manager.filter(member=member).values_list("pk", flat=True)
        ]
        if pks:
            own |= Q(content_type=ContentType.objects.get_for_model(model), object_pk__in=pks)
    return own


def audit_trail_erase(*, member, personal: Personal) -> None:
    """Scrub the member's personal values from the trail: names too in their own records, the
    e-mail and number wherever another record quotes them."""
    if connection.vendor == "postgresql":  # past the append-only guard, for this transaction
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('loyalty.audit_rewrite', 'on', true)")
    token = _erasing.set(personal)
    transaction.on_commit(lambda: _erasing.reset(token))
    own = _own_records(member)
    for record in LogEntry.objects.filter(
        own | personal.q("object_repr", "changes_text", "changes", "additional_data")
    ):
        names = LogEntry.objects.filter(own, pk=record.pk).exists()
        LogEntry.objects.filter(pk=record.pk).update(
            object_repr=personal.scrub(record.object_repr, names=names)[:200],
            changes_text=personal.scrub(record.changes_text, names=names),
            changes=personal.scrub_json(record.changes, names=names),
            additional_data=personal.scrub_json(record.additional_data, names=names),
            serialized_data=None,
        )
