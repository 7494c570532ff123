"""Each role's admin pages: what it may open (200) and what it is refused (403)."""

import pytest
from django.urls import reverse

from rewards.services import reward_redeem
from tests import factories
from tests.roles.conftest import staff_in

pytestmark = pytest.mark.django_db

S, M, K, F = "Support", "Managers", "Marketing", "Finance"

# (URL name, takes the member's id, the roles that may open it); the others get 403.
PAGES = [
    ("admin:accounts_member_changelist", False, {S, M, K, F}),
    ("admin:accounts_member_change", True, {S, M, K, F}),
    ("admin:accounts_member_adjust_points", True, {S, M}),
    ("admin:accounts_member_erase", True, {M}),
    ("admin:rewards_gift_send", True, {M, K}),
    ("admin:loyalty_ledgerentry_changelist", False, {S, M, F}),
    ("admin:loyalty_purchase_changelist", False, {S, M, F}),
    ("admin:loyalty_adjustmentrequest_changelist", False, {S, M}),
    ("admin:loyalty_earningrule_add", False, {M, K}),
    ("admin:loyalty_tier_add", False, {M}),
    ("admin:loyalty_pausepolicy_changelist", False, {M}),
    ("admin:feedback_feedbackitem_changelist", False, {S, M}),
    ("admin:feedback_responsepolicy_changelist", False, {M}),
    ("admin:rewards_reward_add", False, {M, K}),
    ("admin:rewards_redemption_changelist", False, {S, M, K, F}),
    ("admin:insights_campaign_add", False, {M, K}),
    ("admin:insights_dashboard", False, {M, K, F}),
    ("admin:insights_ruledraft_changelist", False, {M, K, F}),
    ("admin:insights_ruledraft_add", False, {M, K}),
    ("admin:webhooks_webhookendpoint_changelist", False, {M}),
    ("admin:accounts_partner_changelist", False, {M, F}),
    ("admin:accounts_user_add", False, set()),
]


@pytest.mark.parametrize("role", [S, M, K, F])
@pytest.mark.parametrize(("name", "per_member", "allowed"), PAGES, ids=[p[0] for p in PAGES])
def test_a_role_opens_its_pages_and_is_refused_the_others(
    client, ona, role, name, per_member, allowed
):
    # given
    client.force_login(staff_in(role))
    url = reverse(name, args=[ona.pk] if per_member else [])
    # when
    response = client.get(url, follow=name.endswith("policy_changelist"))
    # then
    assert response.status_code == (200 if role in allowed else 403), url


@pytest.mark.parametrize("role", [S, M, K, F])
def test_the_adjustment_policy_opens_for_managers_only(client, role):
    client.force_login(staff_in(role))
    response = client.get(reverse("admin:loyalty_adjustmentpolicy_changelist"), follow=True)
    assert response.status_code == (200 if role == M else 403)


def test_finance_exports_redemptions_as_csv(client, finance, ona):
    # given
    redemption = reward_redeem(member=ona, reward=factories.make_reward(points_cost=100))
    client.force_login(finance)
    # when
    response = client.post(
        reverse("admin:rewards_redemption_changelist"),
        {"action": "export_csv", "index": "0", "_selected_action": [redemption.pk]},
    )
    # then
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")


def test_finance_cannot_change_a_member(client, finance, ona):
    # given
    client.force_login(finance)
    # when
    response = client.post(
        reverse("admin:accounts_member_adjust_points", args=[ona.pk]),
        {"points": 10, "reason": "Goodwill"},
    )
    # then
    assert response.status_code == 403
    ona.refresh_from_db()
    assert ona.points_balance == 2000


@pytest.mark.parametrize(("role", "allowed"), [(S, True), (M, True), (K, False), (F, False)])
def test_support_and_managers_answer_feedback(client, ona, role, allowed):
    # given: a complaint
    from feedback import services
    from feedback.models import FeedbackAnswer, FeedbackItem

    item = services.feedback_file(
        member=ona,
        kind=FeedbackItem.Kind.COMPLAINT,
        category=FeedbackItem.Category.SERVICE,
        text="The cashier was rude to me today.",
    )
    client.force_login(staff_in(role))
    # when
    response = client.post(
        reverse("admin:feedback_feedbackitem_answer", args=[item.pk]),
        {"handler_name": "Eglė", "what_was_done": "We talked to the team."},
    )
    # then
    assert response.status_code == (302 if allowed else 403)
    assert FeedbackAnswer.objects.filter(item=item).exists() is allowed
