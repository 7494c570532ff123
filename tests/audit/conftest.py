"""One object of each kind a staff action works on, made through the services."""

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.services import api_key_create
from feedback import services as feedback_services
from feedback.models import FeedbackItem
from insights.draft_models import RuleDraft
from insights.drafts import RULE_FIELDS, draft_save
from insights.ladder import ladder_compute
from loyalty.core.adjustment_models import AdjustmentRequest
from loyalty.core.anomalies import anomaly_record
from loyalty.core.enrolment import member_enroll
from loyalty.core.models import Anomaly
from loyalty.core.pauses import pause_request
from referrals.models import Referral
from referrals.services import referral_code_ensure
from rewards.services import reward_redeem
from tests import factories
from tests.webhooks.test_admin import _failed_delivery
from webhooks import services as webhook_services


@pytest.fixture
def world(db, tiers, partner, admin_user, client):
    """A member with a redemption, a pause asked for, an anomaly, an adjustment waiting for a
    manager, an API key, a published feedback case, a failed webhook delivery, a friend's
    referral waiting for review, the member's insight, a failed login and a rule draft."""
    member = factories.make_member(email="walk@example.com", first_name="Walk", device_hash="dev-1")
    factories.give_points(member, 500)
    reward_redeem(member=member, reward=factories.make_reward(points_cost=50))
    pause_request(member=member, months=1, reason="A hard month")
    anomaly_record(
        kind=Anomaly.Kind.LARGE_PURCHASE,
        partner=partner,
        member=member,
        params={"external_id": "L-1", "amount": "6000.00", "points": 6000},
    )
    # A request as a support agent over their limit leaves one (the service's own path).
    AdjustmentRequest.objects.create(
        member=member, points=900, reason="Goodwill", requested_by=admin_user
    )
    api_key_create(partner=partner, name="till", created_by=admin_user)
    item = feedback_services.feedback_file(
        member=member,
        kind=FeedbackItem.Kind.COMPLAINT,
        category=FeedbackItem.Category.SERVICE,
        text="Long queue.",
        publish_consent=True,
    )
    feedback_services.feedback_answer(
        item=item,
        author=admin_user,
        handler_name="Rasa",
        what_was_done="A second till.",
        what_changes="Opens when the queue is long.",
    )
    feedback_services.case_publish(
        item=item, staff_user=admin_user, language="en", problem="Queues.", what_changed="Till."
    )
    endpoint = webhook_services.endpoint_create(
        partner=partner, url="http://127.0.0.1:9/hook", secret="a-secret-of-enough-length"
    )
    _failed_delivery(endpoint)
    referrer = member
    for friend in ("one", "two", "three"):  # a chain: each brings the next
        referrer = member_enroll(
            email=f"{friend}@example.com", referral_code=referral_code_ensure(member=referrer).code
        )
    # They wait for review, as a soft flag leaves them (the flag rules have their own tests).
    Referral.objects.update(status=Referral.Status.FLAGGED, flags=["same_device"])
    ladder_compute(day=timezone.localdate())
    rule = {**dict.fromkeys(RULE_FIELDS), "name": "Coffee ×2", "is_active": True, "category": ""}
    draft_save(
        draft=RuleDraft(title="Double coffee"),
        staff=admin_user,
        values={**rule, "points_per_unit": 0, "multiplier": 2, "category": "coffee"},
    )
    client.post(reverse("members:login"), {"username": "walk@example.com", "password": "wrong"})
    return member
