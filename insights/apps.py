from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from loyalty.core import hooks


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = _("Insights and campaigns")

    def ready(self):
        hooks.ledger_wording_register(
            hooks.LedgerWording(
                "campaigns", "insights.CampaignMember", "insights.wording.campaign_members"
            )
        )
        hooks.member_hook_register(
            hooks.MemberHook("insights", erase="insights.leaving.insights_erase")
        )
        hooks.job_register(
            hooks.Job(
                "insights",
                _("The loyalty ladder and the dashboard's figures"),
                (hooks.Step("ladder", "insights.ladder.ladder_step", atomic=False),),
            )
        )
        hooks.job_register(
            hooks.Job(
                "campaigns",
                _("Campaign offers"),
                (
                    hooks.Step(
                        "campaign_send",
                        "insights.campaigns.campaign_send_batch",
                        plan="insights.campaigns.campaign_send_plan",
                    ),
                ),
            )
        )
