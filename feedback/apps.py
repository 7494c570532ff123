from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from loyalty.core import hooks
from notifications.kinds import EmailKind, email_kind_register


class FeedbackConfig(AppConfig):
    name = "feedback"
    verbose_name = _("Feedback book")

    def ready(self):
        hooks.ledger_wording_register(
            hooks.LedgerWording("feedback", "feedback.FeedbackItem", "feedback.wording.items")
        )
        hooks.member_hook_register(
            hooks.MemberHook("feedback", erase="feedback.leaving.feedback_erase")
        )
        hooks.job_register(
            hooks.Job(
                "feedback_escalation",
                _("Feedback escalation"),
                (hooks.Step("escalation", "feedback.jobs.escalation", atomic=False),),
            )
        )
        hooks.job_register(
            hooks.Job(
                "surveys",
                _("Survey invitations"),
                (hooks.Step("survey_round", "feedback.jobs.survey_round", atomic=False),),
            )
        )
        email_kind_register(EmailKind("escalation", render="feedback.services.escalation_emails"))
