"""The error every floor raises: a stable machine code, an HTTP status and a message.

Services raise subclasses of LoyaltyError; views, the API's exception handler
(loyalty.base.api.problems) and admin actions turn them into a form message or an
application/problem+json response. Raising one always means nothing changed. Each app keeps its
own errors in its own errors.py; the ones here are those every floor shares.
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


class NotAllowed(LoyaltyError):
    code = "not_allowed"
    status = 403
    default_message = _("You are not allowed to do this.")


class ReasonRequired(InvalidInput):
    code = "reason_required"
    default_message = _("A reason is required.")


class InvalidAmount(InvalidInput):
    code = "invalid_amount"
    default_message = _("The amount must be a positive number with at most two decimals.")


class UnknownCurrency(InvalidInput):
    code = "unknown_currency"
    default_message = _("The currency is not an ISO 4217 code.")
