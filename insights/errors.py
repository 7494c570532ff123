"""The insights app's errors (loyalty.base.errors.LoyaltyError: a stable code, a message)."""

from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError


class CampaignNotDraft(LoyaltyError):
    code = "campaign_not_draft"
    status = 409
    default_message = _("This campaign was launched already.")
