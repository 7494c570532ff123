"""The referral program's own errors (see loyalty.base.errors for how they are shown)."""

from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import InvalidInput, LoyaltyError


class InvalidReferralCode(InvalidInput):
    """A well-formed code no member has: 422 (a 400 means the request broke the API's schema)."""

    code = "invalid_referral_code"
    status = 422
    default_message = _("No member has this referral code.")

    def __init__(self, message=None, **extra):
        extra.setdefault("field", "referral_code")
        super().__init__(message, **extra)


class AlreadyInvited(InvalidInput):
    code = "already_invited"
    default_message = _("You have already invited this friend.")

    def __init__(self, message=None, **extra):
        extra.setdefault("field", "email")
        super().__init__(message, **extra)


class InvitationLimitReached(LoyaltyError):
    code = "invitation_limit_reached"
    status = 429
    default_message = _("You have sent as many invitations as you can today. Try again tomorrow.")


class ReferralNotReviewable(LoyaltyError):
    code = "referral_not_reviewable"
    status = 409
    default_message = _("Only a referral that is waiting for review or pending can be decided.")
