"""A partner's sanity limits over the API: purchases above its largest amount or most points are
refused with a problem code of their own and change nothing; the refusal is an anomaly and staff
hear of it (once an hour per partner and kind); purchases near the limits are flagged; points
spent at another partner minutes after a large earn are flagged; a partner's redemptions a day
are bounded. Staff set the limits on the partner's page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import override

from accounts.models import User
from loyalty.core.anomalies import anomaly_description
from loyalty.core.models import Anomaly, LedgerEntry, Purchase
from notifications.models import OutgoingEmail
from rewards.models import Redemption
from tests import factories

pytestmark = pytest.mark.django_db


def _buy(api, member, external_id: str, amount: str):
    body = {
        "member_number": member.member_number,
        "external_id": external_id,
        "amount": amount,
        "currency": "EUR",
    }
    return api.post("/api/v1/purchases/", body)


def _redeem(api, member, reward):
    body = {"member_number": member.member_number, "reward": reward.slug}
    return api.post("/api/v1/redemptions/", body)


@pytest.fixture
def managers(db):
    group, _ = Group.objects.get_or_create(name="Managers")
    boss = User.objects.create_user(
        email="boss@example.com", password="x", is_staff=True, language="lt"
    )
    boss.groups.add(group)
    return [boss]


@pytest.fixture
def limited(partner):
    partner.max_purchase_amount = Decimal("1000.00")
    partner.max_points_per_purchase = 500
    partner.max_points_redeemed_per_day = 300
    partner.save()
    return partner


def test_a_purchase_above_the_largest_amount_is_refused_and_staff_are_alerted(
    api, limited, member, managers, mailoutbox, django_capture_on_commit_callbacks
):
    OutgoingEmail.objects.all().delete()
    # when
    with django_capture_on_commit_callbacks(execute=True):
        response = _buy(api, member, "BIG-1", "9999999999.99")
    # then: a clear problem, nothing written
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "purchase_amount_over_limit"
    assert body["limit"] == "1000.00"
    assert response["Content-Type"].startswith("application/problem+json")
    assert not Purchase.objects.exists()
    assert not LedgerEntry.objects.filter(member=member).exists()
    # and: an anomaly, and an e-mail to the managers in their language
    anomaly = Anomaly.objects.get()
    assert (anomaly.kind, anomaly.partner, anomaly.member) == ("over_limit", limited, member)
    assert anomaly.params == {"limit_of": "amount", "value": "9999999999.99", "limit": "1000.00"}
    assert [m.to for m in mailoutbox] == [["boss@example.com"]]
    assert "9999999999.99" in mailoutbox[0].body
    with override("lt"):
        assert anomaly_description(anomaly) in mailoutbox[0].body
    assert f"/admin/loyalty/anomaly/{anomaly.pk}/change/" in mailoutbox[0].body


def test_a_retry_of_the_refused_purchase_replays_and_records_nothing_more(api, limited, member):
    first = api.post(
        "/api/v1/purchases/",
        {
            "member_number": member.member_number,
            "external_id": "BIG-2",
            "amount": "5000",
            "currency": "EUR",
        },
        idempotency_key="same-key",
    )
    again = api.post(
        "/api/v1/purchases/",
        {
            "member_number": member.member_number,
            "external_id": "BIG-2",
            "amount": "5000",
            "currency": "EUR",
        },
        idempotency_key="same-key",
    )
    assert first.status_code == again.status_code == 422
    assert first.content == again.content
    assert Anomaly.objects.count() == 1


def test_a_purchase_that_would_earn_more_than_the_most_points_is_refused(api, limited, member):
    # given: 1 point a euro; 600 euros would earn 600 points, past 500
    response = _buy(api, member, "PTS-1", "600.00")
    assert response.status_code == 422
    assert response.json()["code"] == "purchase_points_over_limit"
    assert not Purchase.objects.exists()
    member.refresh_from_db()
    assert member.points_balance == 0
    anomaly = Anomaly.objects.get()
    assert anomaly.params["limit_of"] == "points" and anomaly.params["value"] == "600"


def test_many_refusals_alert_staff_once_an_hour_and_all_are_listed(api, limited, member, managers):
    OutgoingEmail.objects.all().delete()
    for i in range(5):
        assert _buy(api, member, f"BIG-{i}", "2000.00").status_code == 422
    assert Anomaly.objects.filter(kind="over_limit").count() == 5
    assert OutgoingEmail.objects.filter(kind="anomaly").count() == 1
    # an hour on, the next one alerts again
    Anomaly.objects.update(created_at=timezone.now() - timedelta(minutes=61))
    _buy(api, member, "BIG-6", "2000.00")
    assert OutgoingEmail.objects.filter(kind="anomaly").count() == 2


def test_a_purchase_within_the_limits_but_near_them_is_recorded_and_flagged(api, limited, member):
    small = _buy(api, member, "OK-1", "100.00")
    large = _buy(api, member, "OK-2", "450.00")  # 450 points: past half of 500
    assert small.status_code == large.status_code == 201
    anomaly = Anomaly.objects.get()
    assert anomaly.kind == "large_purchase"
    assert anomaly.params == {"external_id": "OK-2", "amount": "450.00", "points": 450}
    member.refresh_from_db()
    assert member.points_balance == 550


def test_points_spent_at_another_partner_minutes_after_a_large_earn_are_flagged(
    api, other_api, limited, member
):
    # given: a large earn at the first partner
    assert _buy(api, member, "LARGE-1", "450.00").status_code == 201
    reward = factories.make_reward(points_cost=400)
    # when: the points are spent at another partner at once
    response = _redeem(other_api, member, reward)
    # then: the redemption goes through, and is flagged
    assert response.status_code == 201
    flagged = Anomaly.objects.get(kind="spent_elsewhere")
    assert flagged.partner == other_api.partner and flagged.member == member
    assert flagged.params["points"] == 400
    assert flagged.params["earned_partner_id"] == limited.pk
    with override("en"):
        assert "after a large earn at Corner Shop" in anomaly_description(flagged)


def test_points_spent_where_they_were_earned_are_not_flagged(api, limited, member):
    limited.max_points_redeemed_per_day = 10_000
    limited.save()
    assert _buy(api, member, "LARGE-2", "450.00").status_code == 201
    reward = factories.make_reward(points_cost=400)
    assert _redeem(api, member, reward).status_code == 201
    assert not Anomaly.objects.filter(kind="spent_elsewhere").exists()


def test_a_partners_redemptions_a_day_are_bounded(api, limited, tiers):
    # given: members with points, a reward of 200; the partner may redeem 300 points a day
    reward = factories.make_reward(points_cost=200)
    first, second = factories.make_member(), factories.make_member()
    factories.give_points(first, 1000)
    factories.give_points(second, 1000)
    # when
    ok = _redeem(api, first, reward)
    refused = _redeem(api, second, reward)
    # then
    assert ok.status_code == 201
    assert refused.status_code == 422
    assert refused.json()["code"] == "partner_redemptions_over_limit"
    second.refresh_from_db()
    assert second.points_balance == 1000
    assert Redemption.objects.count() == 1
    assert Anomaly.objects.get().params["limit_of"] == "daily_redemptions"


def _save_partner(admin_client, partner, max_amount: str):
    """The partner's page sent as staff fill it in: its largest amount, 300 and 5,000 points."""
    return admin_client.post(
        reverse("admin:accounts_partner_change", args=[partner.pk]),
        {
            "name": partner.name,
            "is_active": "on",
            "max_purchase_amount": max_amount,
            "max_points_per_purchase": "300",
            "max_points_redeemed_per_day": "5000",
            **{
                f"api_keys-{name}_FORMS": "0" for name in ("TOTAL", "INITIAL", "MIN_NUM", "MAX_NUM")
            },
        },
    )


def test_staff_set_a_partners_limits_on_its_page(admin_client, partner):
    response = _save_partner(admin_client, partner, "250.00")
    assert response.status_code == 302
    partner.refresh_from_db()
    assert (
        partner.max_purchase_amount,
        partner.max_points_per_purchase,
        partner.max_points_redeemed_per_day,
    ) == (Decimal("250.00"), 300, 5000)


def test_a_limit_of_zero_is_refused_on_the_partners_page(admin_client, partner):
    response = _save_partner(admin_client, partner, "0")
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["max_purchase_amount"]
    partner.refresh_from_db()
    assert partner.max_purchase_amount == Decimal("10000.00")


def test_staff_see_anomalies_and_mark_them_reviewed(api, admin_client, limited, member):
    _buy(api, member, "BIG-9", "5000.00")
    anomaly = Anomaly.objects.get()
    listing = admin_client.get(reverse("admin:loyalty_anomaly_changelist") + "?reviewed=no")
    assert listing.status_code == 200
    assert "5000.00" in listing.content.decode()
    response = admin_client.post(
        reverse("admin:loyalty_anomaly_changelist"),
        {"action": "mark_reviewed", "_selected_action": [anomaly.pk]},
    )
    assert response.status_code == 302
    anomaly.refresh_from_db()
    assert anomaly.reviewed_at is not None
