"""Recording staff writes made through the admin, in the transaction of the write.

Every admin page is wrapped (StaffAdminSite.admin_view): during the request the staff user is
the actor of every record django-auditlog writes, and a POST to a model's page that did
something (an action applied, a staff page's form accepted) is recorded here as well, object by
object, with the action's name, the fields that changed (before and after) and the reason when
the form asked for one. Saves and deletes of the models django-auditlog watches
(loyalty.audit.registry) are recorded by its own signals, so their add, change and delete pages
are not recorded twice; those pages of any other model are recorded here."""

from __future__ import annotations

import functools

from auditlog.context import set_actor
from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.contrib.admin import ModelAdmin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.template.response import TemplateResponse

# The names a staff form gives the "why" of a change.
REASON_FIELDS = ("reason", "status_reason", "cancel_reason", "note", "message")
# Fields whose values never go into a record.
SECRET_FIELDS = {"password", "digest", "key", "secret", "key_hash"}
# The model pages django-auditlog's signals already record.
SIGNAL_RECORDED_VIEWS = ("add_view", "change_view", "changeform_view", "delete_view")
# How long a recorded value may be (a long text is cut: the object keeps the whole).
VALUE_CHARS = 500


def _value(value) -> str | None:
    if value is None:
        return None
    return str(value)[:VALUE_CHARS]


def snapshot(model, pks) -> dict[str, dict[str, str | None]]:
    """The fields of each object, as text, by primary key (one query)."""
    objects = model._default_manager.filter(pk__in=list(pks)) if pks else []
    fields = [f for f in model._meta.concrete_fields if f.name not in SECRET_FIELDS]
    return {
        str(obj.pk): {f.name: _value(getattr(obj, f.attname)) for f in fields} for obj in objects
    }


def changes_between(before: dict, after: dict | None) -> dict[str, list]:
    if after is None:
        return {name: [value, None] for name, value in before.items()}
    return {
        name: [before.get(name), value]
        for name, value in after.items()
        if before.get(name) != value
    }


def reason_from(request) -> str:
    for name in REASON_FIELDS:
        value = request.POST.get(name, "").strip()
        if value:
            return value[:VALUE_CHARS]
    return ""


def staff_write_record(
    *,
    actor,
    model,
    object_pk: str,
    object_repr: str,
    operation: str,
    changes: dict,
    reason: str = "",
    remote_addr: str | None = None,
) -> LogEntry:
    """One audit record of a staff write: who, which object, what operation, before and after."""
    return LogEntry.objects.create(
        content_type=ContentType.objects.get_for_model(model),
        object_pk=object_pk,
        object_id=int(object_pk) if object_pk.isdigit() else None,
        object_repr=object_repr[:200],
        action=LogEntry.Action.UPDATE if changes else LogEntry.Action.ACCESS,
        changes=changes,
        changes_text="",
        actor=actor,
        actor_email=getattr(actor, "email", None),
        remote_addr=remote_addr,
        additional_data={"operation": operation, "reason": reason},
    )


def _operation(request, view) -> str:
    action = request.POST.get("action")
    if view.__name__ == "changelist_view" and action:
        return action
    return view.__name__.removesuffix("_view")


def _did_something(response) -> bool:
    """A page shown again (a confirmation, a form with errors) wrote nothing; a redirect or a
    download (an export) did."""
    return not isinstance(response, TemplateResponse) and response.status_code < 400


def _record_post(request, model_admin: ModelAdmin, view, args, kwargs):
    model = model_admin.model
    pks = request.POST.getlist(ACTION_CHECKBOX_NAME)
    if not pks and kwargs.get("object_id"):
        pks = [kwargs["object_id"]]
    elif not pks and args:
        pks = [str(args[0])]
    before = snapshot(model, pks)
    with transaction.atomic():
        response = view(request, *args, **kwargs)
        if _did_something(response):
            after = snapshot(model, before)
            operation = _operation(request, view)
            reason = reason_from(request)
            remote_addr = request.META.get("REMOTE_ADDR")
            for pk, fields in before.items():
                staff_write_record(
                    actor=request.user,
                    model=model,
                    object_pk=pk,
                    object_repr=f"{model._meta.model_name} #{pk}",
                    operation=operation,
                    changes=changes_between(fields, after.get(pk)),
                    reason=reason,
                    remote_addr=remote_addr,
                )
            if not before:
                staff_write_record(
                    actor=request.user,
                    model=model,
                    object_pk="",
                    object_repr=str(model._meta.verbose_name_plural),
                    operation=operation,
                    changes={},
                    reason=reason,
                    remote_addr=remote_addr,
                )
    return response


def audited(view):
    """An admin view with the staff user as the actor of its records; a model page's POST that
    wrote something recorded (see the module's docstring)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return view(request, *args, **kwargs)
        with set_actor(user, remote_addr=request.META.get("REMOTE_ADDR")):
            model_admin = getattr(view, "__self__", None)
            if (
                request.method == "POST"
                and isinstance(model_admin, ModelAdmin)
                and not (
                    view.__name__ in SIGNAL_RECORDED_VIEWS and auditlog.contains(model_admin.model)
                )
            ):
                return _record_post(request, model_admin, view, args, kwargs)
            return view(request, *args, **kwargs)

    return wrapper
