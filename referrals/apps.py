from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from loyalty.core import hooks
from notifications.kinds import EmailKind, email_kind_register


class ReferralsConfig(AppConfig):
    name = "referrals"
    verbose_name = _("Referrals")

    def ready(self):
        hooks.ledger_wording_register(
            hooks.LedgerWording("referrals", "referrals.Referral", "referrals.wording.referrals")
        )
        hooks.enrolment_hook_register(
            hooks.EnrolmentHook("referrals", "referrals.services.signup_record")
        )
        hooks.purchase_hook_register(
            hooks.PurchaseHook(
                "referrals",
                "referrals.services.referral_check_purchase",
                applies="referrals.selectors.referred",
            )
        )
        hooks.refund_hook_register(
            hooks.RefundHook("referrals", "referrals.services.referral_check_refund")
        )
        hooks.job_steps_add(
            "expiry",
            hooks.Step("expire_referrals", "referrals.jobs.referrals_expiry", atomic=False),
        )
        hooks.member_hook_register(
            hooks.MemberHook(
                "referrals",
                close="referrals.leaving.referrals_close",
                erase="referrals.leaving.referrals_erase",
            )
        )
        email_kind_register(
            EmailKind(
                "invitation",
                render="referrals.invitations.invitation_emails",
                sent="referrals.invitations.invitation_sent",
            )
        )
