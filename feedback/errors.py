"""Errors of the feedback book and the surveys."""

from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import InvalidInput, LoyaltyError


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
