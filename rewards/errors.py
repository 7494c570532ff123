"""Errors of the reward catalogue, redemptions and vouchers."""

from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError
from loyalty.core.errors import OverLimit


class RewardNotFound(LoyaltyError):
    code = "reward_not_found"
    status = 404
    default_message = _("No reward has that code.")


class RewardInactive(LoyaltyError):
    code = "reward_inactive"
    status = 422
    default_message = _("This reward is not available now.")


class OutOfStock(LoyaltyError):
    code = "out_of_stock"
    status = 409
    default_message = _("This reward is out of stock.")


class LimitReached(LoyaltyError):
    code = "limit_reached"
    status = 409
    default_message = _("The member has redeemed this reward as often as it allows.")


class TierTooLow(LoyaltyError):
    code = "tier_too_low"
    status = 403
    default_message = _("This reward needs a higher tier.")


class RedemptionNotFound(LoyaltyError):
    code = "redemption_not_found"
    status = 404
    default_message = _("No redemption has that id.")


class RedemptionNotCancellable(LoyaltyError):
    code = "redemption_not_cancellable"
    status = 409
    default_message = _("Only a redemption whose voucher is still unused can be cancelled.")


class VoucherNotFound(LoyaltyError):
    code = "voucher_not_found"
    status = 404
    default_message = _("No voucher has that code.")


class VoucherAlreadyUsed(LoyaltyError):
    code = "voucher_already_used"
    status = 409
    default_message = _("This voucher was already used.")


class VoucherExpired(LoyaltyError):
    code = "voucher_expired"
    status = 409
    default_message = _("This voucher has expired.")


class VoucherCancelled(LoyaltyError):
    code = "voucher_cancelled"
    status = 409
    default_message = _("This voucher was cancelled.")


class RedemptionsOverLimit(OverLimit):
    code = "partner_redemptions_over_limit"
    default_message = _(
        "This partner's redemptions today would pass the points it may redeem in a day."
    )


class GiftPointsInvalid(LoyaltyError):
    code = "gift_points_invalid"
    status = 422
    default_message = _("A gift of points needs a whole number of points from 1 to the limit.")


class GiftIncomplete(LoyaltyError):
    code = "gift_incomplete"
    status = 422
    default_message = _("Choose what to give: points, a reward as a voucher, or only a card.")


class CardTemplateInactive(LoyaltyError):
    code = "card_template_inactive"
    status = 422
    default_message = _("This card is not active; choose another one.")
