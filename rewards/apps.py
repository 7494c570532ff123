from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from loyalty.core import hooks


class RewardsConfig(AppConfig):
    name = "rewards"
    verbose_name = _("Rewards")

    def ready(self):
        for name, model in (
            ("redemptions", "rewards.Redemption"),
            ("vouchers", "rewards.Voucher"),
            ("grants", "rewards.OccasionGrant"),
            ("gifts", "rewards.Gift"),
        ):
            hooks.ledger_wording_register(
                hooks.LedgerWording(f"rewards_{name}", model, f"rewards.wording.{name}")
            )
        hooks.member_page_link_register(
            hooks.MemberPageLink(
                "send_gift", _("Send a gift"), "admin:rewards_gift_send", "rewards.add_gift"
            )
        )
        hooks.job_register(
            hooks.Job(
                "anniversary",
                _("Anniversary thank-you"),
                (
                    hooks.Step(
                        "anniversary",
                        "rewards.occasions.anniversary_batch",
                        "rewards.occasions.anniversary_plan",
                    ),
                ),
                catch_up=True,
            )
        )
        hooks.job_register(
            hooks.Job(
                "birthdays",
                _("Birthday greetings"),
                (
                    hooks.Step(
                        "birthdays",
                        "rewards.occasions.birthday_batch",
                        "rewards.occasions.birthday_plan",
                    ),
                ),
                catch_up=True,
            )
        )
        hooks.pause_hook_register(
            hooks.PauseHook("vouchers_wait", "rewards.services.vouchers_move_for_pause")
        )
        hooks.job_steps_add(
            "expiry", hooks.Step("expire_vouchers", "rewards.jobs.vouchers_expiry", atomic=False)
        )
        hooks.member_hook_register(
            hooks.MemberHook(
                "rewards",
                close="rewards.leaving.rewards_close",
                erase="rewards.leaving.rewards_erase",
            )
        )
