"""Staff pages of the insights app: the outreach list, rung history, contacts, the policy,
campaigns, rule drafts and their simulations, the member's profile on their admin page, and the
dashboard (insights.views)."""

from . import campaigns, drafts, members, outreach  # noqa: F401 (registers the admins)
