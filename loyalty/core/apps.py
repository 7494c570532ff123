from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _

from loyalty.base import months
from notifications.kinds import EmailKind, email_kind_register

from . import hooks
from .roles import roles_on_post_migrate


class CoreConfig(AppConfig):
    """The points core. Its label stays "loyalty" (the app lived at loyalty/ before the floors
    were drawn), so its tables, migrations and admin URLs keep their names."""

    name = "loyalty.core"
    label = "loyalty"
    verbose_name = _("Points and tiers")

    def ready(self):
        months.install()
        # Staff roles follow loyalty.core.roles after every migrate (see there why).
        post_migrate.connect(roles_on_post_migrate, sender=self, dispatch_uid="loyalty_roles")
        email_kind_register(EmailKind("anomaly", render="loyalty.core.anomalies.anomaly_emails"))
        email_kind_register(
            EmailKind("job_catch_up", render="loyalty.core.catchup.catch_up_emails")
        )
        tiers, expiry, housekeeping, pauses, pending = (
            "loyalty.core.tiers",
            "loyalty.core.expiry",
            "loyalty.core.housekeeping",
            "loyalty.core.pauses",
            "loyalty.core.pending",
        )
        hooks.job_register(
            hooks.Job(
                "tier_review",
                _("Tier review"),
                (
                    hooks.Step(
                        "tier_review", f"{tiers}.tier_review_batch", f"{tiers}.tier_review_plan"
                    ),
                ),
            )
        )
        hooks.job_register(
            hooks.Job(
                "expiry",
                _("Points and voucher expiry"),
                (
                    # First: pauses that end tonight end before anything expires (the member's
                    # dates were moved when it began, so nothing is due at once either way).
                    hooks.Step("end_pauses", f"{pauses}.pauses_batch", f"{pauses}.pauses_plan"),
                    # Points whose return window has passed become spendable (their own lots
                    # expire by the policy counted from that day, so the order does not matter).
                    hooks.Step(
                        "release_pending", f"{pending}.release_batch", f"{pending}.release_plan"
                    ),
                    hooks.Step("expire_points", f"{expiry}.expiry_batch", f"{expiry}.expiry_plan"),
                    hooks.Step(
                        "expiry_notices",
                        f"{expiry}.expiry_notice_batch",
                        f"{expiry}.expiry_notice_plan",
                    ),
                ),
            )
        )
        hooks.job_register(
            hooks.Job(
                "housekeeping",
                _("Housekeeping"),
                (
                    hooks.Step(
                        "idempotency_keys",
                        f"{housekeeping}.idempotency_keys_batch",
                        f"{housekeeping}.idempotency_keys_plan",
                    ),
                    hooks.Step(
                        "webhook_deliveries",
                        f"{housekeeping}.webhook_deliveries_cleanup",
                        atomic=False,
                    ),
                ),
            )
        )
