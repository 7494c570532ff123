"""Errors of members and partners."""

from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import InvalidInput, LoyaltyError


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


class MemberNumberUnavailable(LoyaltyError):
    code = "member_number_unavailable"
    status = 409
    default_message = _("That member number belongs, or belonged, to another member.")


class EmailUnavailable(LoyaltyError):
    code = "email_unavailable"
    status = 409
    default_message = _("This e-mail address cannot be enrolled; please use another one.")


class BirthdayNotPlausible(InvalidInput):
    """A real calendar day, written as the API's schema says, that cannot be this member's
    birthday (in the future, or over 130 years ago): well formed, so 422, not 400."""

    code = "implausible_birthday"
    status = 422
    default_message = _("The birth year is not plausible.")


class PartnerNotActive(LoyaltyError):
    code = "partner_not_active"
    status = 403
    default_message = _("The partner is not active.")


class MemberIsStaff(LoyaltyError):
    code = "member_is_staff"
    status = 409
    default_message = _(
        "This membership belongs to a staff login: closing or erasing it would end that login. "
        "Take the user's staff rights away first."
    )


class InsufficientScope(LoyaltyError):
    """The API key lacks the scope the endpoint needs (accounts.authentication.HasScope)."""

    code = "insufficient_scope"
    status = 403
    default_message = _("This API key does not have the scope this request needs.")
