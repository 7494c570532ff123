"""The insights app's errors (loyalty.base.errors.LoyaltyError: a stable code, a message)."""

from django.utils.translation import gettext_lazy as _

from loyalty.base.errors import LoyaltyError


class CampaignNotDraft(LoyaltyError):
    code = "campaign_not_draft"
    status = 409
    default_message = _("This campaign was launched already.")


class DraftPublished(LoyaltyError):
    code = "draft_published"
    status = 409
    default_message = _("This draft was published already: it is history now.")


class DraftStale(LoyaltyError):
    code = "draft_stale"
    status = 409
    default_message = _(
        "What this draft changes was changed meanwhile: save the draft again to see it against "
        "the rules as they are now, and simulate it again."
    )
