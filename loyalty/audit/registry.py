"""The models whose saves and deletes django-auditlog records: what staff change in the admin.

Left out on purpose: the ledger's own rows (LedgerEntry, PointLot: append-only already, and the
largest tables), what partners write at volume (Purchase, Refund, idempotency records), the
outboxes (messages, e-mails, webhook events and deliveries) and job runs. A staff action on those
(a webhook "Send again", a redemption cancelled) is still recorded, by loyalty.audit.records."""

from auditlog.models import LogEntry
from auditlog.registry import auditlog
from django.apps import apps
from django.db.models.signals import pre_save

# A person's own data is never copied into a record: an erasure must leave none of it behind,
# and the trail is kept. A change to these fields is recorded, its values replaced by a marker.
PERSONAL_FIELDS = (
    "email",
    "first_name",
    "last_name",
    "birthday_day",
    "birthday_month",
    "birthday_year",
    "birthday_set_on",
)

# "app_label.Model": fields never copied into a record (secrets; counters the system moves).
AUDITED_MODELS: dict[str, tuple[str, ...]] = {
    "accounts.User": ("password", "last_login"),
    "accounts.Member": ("points_balance", "points_pending"),
    "accounts.Partner": (),
    "accounts.PartnerApiKey": ("key_hash", "last_used_at"),
    "loyalty.Tier": (),
    "loyalty.EarningRule": (),
    "loyalty.AdjustmentPolicy": (),
    "loyalty.AdjustmentRequest": (),
    "loyalty.Anomaly": (),
    "loyalty.Pause": (),
    "loyalty.PausePolicy": (),
    "rewards.Reward": (),
    "rewards.Redemption": (),
    "rewards.CardTemplate": (),
    "rewards.Gift": (),
    "rewards.BirthdayGiftSettings": (),
    "feedback.FeedbackItem": (),
    "feedback.PublishedCase": (),
    "feedback.AnswerTemplate": (),
    "feedback.ResponsePolicy": (),
    "insights.Campaign": (),
    "insights.InsightsPolicy": (),
    "insights.RuleDraft": (),
    "imports.ImportJob": ("done",),
    "webhooks.WebhookEndpoint": ("secret",),
    "auth.Group": (),
    "django_celery_beat.PeriodicTask": ("last_run_at", "total_run_count", "date_changed"),
    "django_celery_beat.CrontabSchedule": (),
    "django_celery_beat.IntervalSchedule": (),
    "otp_totp.TOTPDevice": ("key", "last_t", "drift", "throttling_failure_count"),
}


PERSONAL_MARK = "[personal]"


def neutral_repr(sender, instance, **kwargs):
    """A record names its object by type and id, never by its text (a member's e-mail), and
    says that a personal field changed without its values."""
    if instance.content_type_id and instance.object_pk:
        instance.object_repr = f"{instance.content_type.model} #{instance.object_pk}"
    if isinstance(instance.changes, dict):
        for name in PERSONAL_FIELDS:
            if name in instance.changes:
                instance.changes[name] = [PERSONAL_MARK, PERSONAL_MARK]
        instance.changes_text = ""


def register_audited_models() -> None:
    """Register each model that is installed (an app may be left out of INSTALLED_APPS)."""
    from loyalty.audit.erasure import scrub_while_erasing

    pre_save.connect(neutral_repr, sender=LogEntry, dispatch_uid="audit_neutral_repr")
    pre_save.connect(scrub_while_erasing, sender=LogEntry, dispatch_uid="audit_erasing")
    for dotted, excluded in AUDITED_MODELS.items():
        app_label, model_name = dotted.split(".")
        try:
            model = apps.get_model(app_label, model_name)
        except LookupError:
            continue
        if not auditlog.contains(model):
            # Concrete fields only: a reverse one-to-one read for a diff would be cached empty
            # on the instance (a member's referral code made just after, say).
            hidden = set(excluded)
            fields = [f.name for f in model._meta.concrete_fields if f.name not in hidden]
            auditlog.register(model, include_fields=fields)
