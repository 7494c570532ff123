"""Errors of the points core: the ledger, purchases, refunds and idempotent API requests."""

from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import InvalidInput, LoyaltyError


class InvalidPoints(InvalidInput):
    code = "invalid_points"
    default_message = _("Points must be a positive whole number.")


class CurrencyMismatch(LoyaltyError):
    code = "currency_mismatch"
    status = 422
    default_message = _("The currency does not match the partner's or the purchase's currency.")


class InsufficientPoints(LoyaltyError):
    code = "insufficient_points"
    status = 422
    default_message = _("The member does not have enough points.")


class DuplicatePurchase(LoyaltyError):
    code = "duplicate_purchase"
    status = 409
    default_message = _("This partner already reported a purchase with this id.")


class DuplicateInBatch(LoyaltyError):
    code = "duplicate_in_batch"
    status = 409
    default_message = _("An earlier purchase of this batch has the same id.")


class BatchSizeInvalid(InvalidInput):
    code = "invalid_batch_size"
    default_message = _("A batch holds from 1 to %(most)d purchases.")

    def __init__(self, *, most: int):
        super().__init__(str(self.default_message) % {"most": most}, max_purchases=most)


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
    """A purchase or refund the API's schema calls well formed, refused by a rule no schema can
    state (lines that do not add up, a day outside the reporting window, a SKU the purchase
    does not have): 422, as a 400 means the request broke the schema."""

    code = "invalid_purchase"
    status = 422
    default_message = _("The purchase is not valid.")


class LedgerInconsistent(LoyaltyError):
    """Lots and balance disagree: a bug or a manual database edit. The transaction rolls back."""

    code = "ledger_inconsistent"
    status = 500
    default_message = _("The points ledger is inconsistent.")


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


class OverLimit(LoyaltyError):
    """A request past one of the partner's sanity limits. It is refused (nothing changes) and
    the anomaly it carries is recorded and staff alerted: by the API's IdempotentRun once the
    refusal's effects are rolled back, or by any other caller with anomalies.refusal_record."""

    status = 422

    def __init__(self, *, limit, partner, member=None, **params):
        super().__init__(limit=str(limit))
        self.anomaly = {
            "partner": partner,
            "member": member,
            "params": {**params, "limit": str(limit)},
        }


class PurchaseAmountOverLimit(OverLimit):
    code = "purchase_amount_over_limit"
    default_message = _("The amount is above the largest purchase this partner may report.")


class PurchasePointsOverLimit(OverLimit):
    code = "purchase_points_over_limit"
    default_message = _("The purchase would earn more points than this partner may give at once.")


class PauseOpen(LoyaltyError):
    code = "pause_open"
    status = 409
    default_message = _("This membership is paused already, or a break is waiting for our team.")


class PauseTooSoon(LoyaltyError):
    code = "pause_too_soon"
    status = 422
    default_message = _("A new break can be asked for later.")


class PauseNotOpen(LoyaltyError):
    code = "pause_not_open"
    status = 409
    default_message = _("This pause is not waiting or running any more.")


class AdjustmentDecided(LoyaltyError):
    code = "adjustment_decided"
    status = 409
    default_message = _("This request has already been decided.")
