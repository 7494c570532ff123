"""The program's own errors. Each has a stable machine code the API and pages map to a message.

Services raise these; views, the API's exception handler and admin actions turn them into a
form message or an application/problem+json response. Raising one always means nothing changed.
"""

from django.utils.translation import gettext_lazy as _


class LoyaltyError(Exception):
    code = "loyalty_error"
    status = 400
    default_message = _("The request cannot be carried out.")

    def __init__(self, message=None, **extra):
        self.message = str(message or self.default_message)
        self.extra = extra
        super().__init__(self.message)


class InvalidInput(LoyaltyError):
    code = "invalid_input"
    status = 400
    default_message = _("The input is not valid.")


class InvalidPoints(InvalidInput):
    code = "invalid_points"
    default_message = _("Points must be a positive whole number.")


class InvalidAmount(InvalidInput):
    code = "invalid_amount"
    default_message = _("The amount must be a positive number with at most two decimals.")


class UnknownCurrency(InvalidInput):
    code = "unknown_currency"
    default_message = _("The currency is not an ISO 4217 code.")


class CurrencyMismatch(LoyaltyError):
    code = "currency_mismatch"
    status = 422
    default_message = _("The currency does not match the partner's or the purchase's currency.")


class ReasonRequired(InvalidInput):
    code = "reason_required"
    default_message = _("A reason is required.")


class NotAllowed(LoyaltyError):
    code = "not_allowed"
    status = 403
    default_message = _("You are not allowed to do this.")


class MemberNotFound(LoyaltyError):
    code = "member_not_found"
    status = 404
    default_message = _("No member has that number.")


class MemberNotActive(LoyaltyError):
    code = "member_not_active"
    status = 422
    default_message = _("The membership is closed.")


class MemberExists(LoyaltyError):
    code = "member_exists"
    status = 409
    default_message = _("A member with this e-mail address is already enrolled.")


class EmailUnavailable(LoyaltyError):
    code = "email_unavailable"
    status = 409
    default_message = _("This e-mail address cannot be enrolled; please use another one.")


class InsufficientPoints(LoyaltyError):
    code = "insufficient_points"
    status = 422
    default_message = _("The member does not have enough points.")


class DuplicatePurchase(LoyaltyError):
    code = "duplicate_purchase"
    status = 409
    default_message = _("This partner already reported a purchase with this id.")


class PurchaseNotFound(LoyaltyError):
    code = "purchase_not_found"
    status = 404
    default_message = _("No purchase has that id.")


class DuplicateRefund(LoyaltyError):
    code = "duplicate_refund"
    status = 409
    default_message = _("A refund with this id was already recorded for the purchase.")


class RefundExceedsPurchase(LoyaltyError):
    code = "refund_exceeds_purchase"
    status = 422
    default_message = _("The refund is larger than what is left of the purchase.")


class InvalidPurchase(InvalidInput):
    code = "invalid_purchase"
    default_message = _("The purchase is not valid.")


class PartnerNotActive(LoyaltyError):
    code = "partner_not_active"
    status = 403
    default_message = _("The partner is not active.")


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


class IdempotencyKeyRequired(LoyaltyError):
    code = "idempotency_key_required"
    status = 400
    default_message = _(
        "Every POST needs an Idempotency-Key header (1 to 255 printable characters)."
    )


class IdempotencyKeyReused(LoyaltyError):
    code = "idempotency_key_reused"
    status = 422
    default_message = _("This Idempotency-Key was already used with another request.")


class IdempotencyKeyInProgress(LoyaltyError):
    code = "idempotency_key_in_progress"
    status = 409
    default_message = _("A request with this Idempotency-Key is still being processed.")


class LedgerInconsistent(LoyaltyError):
    """Lots and balance disagree: a bug or a manual database edit. The transaction rolls back."""

    code = "ledger_inconsistent"
    status = 500
    default_message = _("The points ledger is inconsistent.")


# --- the feedback book ---------------------------------------------------------------------------


class FeedbackNotFound(LoyaltyError):
    code = "feedback_not_found"
    status = 404
    default_message = _("No feedback item has that id.")


class FeedbackClosed(LoyaltyError):
    code = "feedback_closed"
    status = 409
    default_message = _("This feedback item is closed.")


class FeedbackNotAnswered(LoyaltyError):
    code = "feedback_not_answered"
    status = 409
    default_message = _("This feedback item has no answer yet.")


class AlreadyRated(LoyaltyError):
    code = "already_rated"
    status = 409
    default_message = _("The answer was already rated.")


class ConsentRequired(LoyaltyError):
    code = "consent_required"
    status = 422
    default_message = _("The member has not agreed to publication.")


class NotAnonymous(InvalidInput):
    code = "not_anonymous"
    default_message = _(
        "A published case must not contain a name, an e-mail address, a phone number or a "
        "member number."
    )


class SurveyNotFound(LoyaltyError):
    code = "survey_not_found"
    status = 404
    default_message = _("No open survey was found.")


class SurveyAnswered(LoyaltyError):
    code = "survey_answered"
    status = 409
    default_message = _("This survey was already answered. Thank you!")
