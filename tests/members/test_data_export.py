"""The data download holds everything the program keeps about the member (members/export.py).

Every model that points at a member (or at the user model) must be in an export section or
named as not exported with a reason; a member with a row of every covered model finds each row
in the download, and nobody else's full e-mail address or member number.
"""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.apps import apps
from django.contrib.auth import get_user_model
from django.urls import reverse

from accounts.models import Member
from accounts.services import partner_update
from feedback import surveys
from feedback.services import case_publish, feedback_answer, feedback_file
from insights import services as insight_services
from insights.campaigns import campaign_launch
from insights.ladder import ladder_compute
from insights.models import Campaign, CampaignMember, MemberInsight, RungChange
from loyalty.core.adjustments import points_adjust_or_request
from loyalty.core.jobs import job_run
from loyalty.core.models import LedgerEntry, PointLot
from loyalty.core.pauses import pause_request
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from members import export
from notifications.models import Message
from referrals.invitations import referral_invite
from referrals.services import referral_code_ensure
from rewards.gifts import gift_send
from rewards.goals import saving_goal_set
from rewards.models import CardTemplate
from rewards.services import reward_redeem
from tests import factories
from webhooks.services import endpoint_create

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 10, tzinfo=UTC)
LANGS = ("en", "lt", "bg", "da", "ru", "pl")


def _points_at_a_member(model) -> list[str]:
    """The model's own fields that are a foreign key or one-to-one to a member or a user."""
    targets = {Member, get_user_model()}
    return [
        f.name
        for f in model._meta.get_fields()
        if (f.many_to_one or f.one_to_one) and f.concrete and f.related_model in targets
    ]


def test_every_model_that_points_at_a_member_is_exported_or_named_with_a_reason():
    covered = {label for section in export.SECTIONS for label in section.models}
    missing = [
        model._meta.label
        for model in apps.get_models(include_auto_created=True)
        if not model._meta.proxy  # (a proxy's rows are its model's)
        and _points_at_a_member(model)
        and model._meta.label not in covered
        and model._meta.label not in export.NOT_EXPORTED
    ]
    assert missing == [], (
        f"{', '.join(missing)} point at a member or user but are not in the data download: add "
        "a section to members/export.py SECTIONS, or name them in NOT_EXPORTED with the reason."
    )
    assert all(reason.strip() for reason in export.NOT_EXPORTED.values())
    assert not covered & set(export.NOT_EXPORTED)
    known = {model._meta.label for model in apps.get_models(include_auto_created=True)}
    assert covered <= known and set(export.NOT_EXPORTED) <= known


@pytest.fixture
def staff(db):
    return get_user_model().objects.create_superuser(email="chief.staff@example.com", password="x")


@pytest.fixture
def everything(tiers, staff, client):
    """A member with at least one row of every model the download covers."""
    with time_machine.travel(NOW, tick=False):
        referrer = factories.make_member(email="rasa.referrer@example.com", first_name="Rasa")
        member = factories.make_member(
            email="ieva@example.com",
            first_name="Ieva",
            language="en",
            password=PASSWORD,
            joined_on=date(2023, 6, 1),
            referral_code=referral_code_ensure(member=referrer).code,
            device_hash="device-hash-never-shown",
        )
        friend = factories.make_member(
            email="jonas.friend@example.com",
            first_name="Jonas",
            referral_code=referral_code_ensure(member=member).code,
        )
        referral_invite(referrer=member, email="petras.invited@example.org", vouched=True)
        partner = factories.make_partner("Corner Shop")
        # the shop's system hears of its purchases (told_partners)
        endpoint_create(partner=partner, url="https://corner.example/hook", secret="s" * 20)
        factories.make_rule(name="One point per euro")
        ladder_compute(day=NOW.date())  # a prospect: no purchase yet
    with time_machine.travel(NOW + timedelta(hours=1), tick=False):
        purchase = purchase_record(
            partner=partner,
            member=member,
            external_id="SALE-77",
            amount=Decimal("600.00"),
            currency="EUR",
            lines=[
                {"sku": "COFFEE-BEANS", "quantity": 2, "amount": "400.00", "category": "coffee"},
                {"sku": "MUG-9", "quantity": 1, "amount": "200.00"},
            ],
        ).purchase
        purchase_refund(
            purchase=purchase, external_id="RET-5", lines=[{"sku": "MUG-9", "quantity": 1}]
        )
        # a purchase inside a partner's return window: its points are pending
        market = partner_update(
            partner=factories.make_partner("Weekly Market"), changes={"return_window_days": 14}
        )
        purchase_record(
            partner=market, member=member, external_id="MARKET-3", amount="30", currency="EUR"
        )
        reward = factories.make_reward(slug="free-coffee", name_en="Free coffee", points_cost=150)
        voucher = reward_redeem(member=member, reward=reward).voucher
        hamper = factories.make_reward(slug="hamper", name_en="Hamper", points_cost=9000)
        saving_goal_set(member=member, reward=hamper)
        job_run(name="anniversary", day=date(2026, 6, 1))
        card = CardTemplate.objects.create(
            name="Thanks",
            **{f"title_{code}": f"Thank you for staying ({code})" for code in LANGS},
            **{f"text_{code}": f"Thank you, {{name}} ({code})." for code in LANGS},
        )
        gift_send(
            member=member,
            what="points",
            points=25,
            template=card,
            staff_user=staff,
            note="For your patience at till 4",
        )
        item = feedback_file(
            member=member,
            kind="complaint",
            category="service",
            text="The cashier at till 4 was rude",
            publish_consent=True,
        )
        feedback_answer(
            item=item,
            author=staff,
            what_was_done="We spoke with the cashier",
            what_changes="Training for every cashier",
            handler_name="Daiva",
        )
        case_publish(
            item=item,
            staff_user=staff,
            language="en",
            problem="A cashier was rude",
            what_changed="Kindness training for all",
        )
        surveys.survey_invite(member=member, trigger="purchase")
        surveys.survey_answer(member=member, would_tell=4, recommend=9)
        insight_services.outreach_record(
            member=member, staff=staff, note="Called about the cashier; she was glad"
        )
        ladder_compute(day=NOW.date() + timedelta(days=1))  # a first-time customer now
        fields = {f"subject_{code}": f"Hello ({code})" for code in LANGS}
        fields |= {f"card_{code}": f"A card ({code})." for code in LANGS}
        campaign = insight_services.campaign_save(
            campaign=Campaign(name="Summer hello 2026", offer=Campaign.Offer.MESSAGE, **fields),
            staff=staff,
        )
        campaign_launch(campaign=campaign, staff=staff, start_sending=False)
        pause_request(member=member, months=2, reason="A hard winter")
        agent = get_user_model().objects.create_user(
            email="support.agent@example.com", password="x", is_staff=True
        )
        points_adjust_or_request(
            member=member, points=900, staff_user=agent, reason="Make good the broken till 4"
        )
    client.force_login(member.user)
    return {
        "member": member,
        "referrer": referrer,
        "friend": friend,
        "voucher": voucher,
        "client": client,
    }


def test_the_download_holds_a_row_of_every_covered_model_and_no_one_elses_details(
    everything, staff
):
    member = everything["member"]
    # when
    response = everything["client"].get(reverse("members:data_download"))
    # then
    assert response.status_code == 200
    text = response.content.decode()
    data = json.loads(text)
    assert [key for key in data if key != "exported_at"] == [s.name for s in export.SECTIONS]
    messages = Message.objects.filter(member=member)
    # each covered model: its rows are there, found by a value of their own
    found = {
        "accounts.Member": data["profile"]["member_number"] == member.member_number,
        "loyalty.LedgerEntry": (
            len(data["ledger"]) == LedgerEntry.objects.filter(member=member).count() >= 4
            and "Spent on the reward “Free coffee”" in text
        ),
        "loyalty.PointLot": len(data["point_lots"])
        == PointLot.objects.filter(member=member).count(),
        "loyalty.PendingPoints": (
            [(p["purchase"], p["points"], p["status"]) for p in data["pending_points"]]
            == [("MARKET-3", 37, "pending")]  # 30 × 1.25 (Silver since SALE-77)
            and data["profile"]["points_pending"] == 37
        ),
        "loyalty.TierChange": [c["to"] for c in data["tier_history"]] == ["Silver"],
        "loyalty.Purchase": data["purchases"][0]["id"] == "SALE-77",
        "loyalty.PurchaseLine": [line["sku"] for line in data["purchases"][0]["lines"]]
        == ["COFFEE-BEANS", "MUG-9"],
        "loyalty.Refund": data["purchases"][0]["refunds"][0]["id"] == "RET-5",
        "loyalty.RefundLine": data["purchases"][0]["refunds"][0]["lines"][0]["sku"] == "MUG-9",
        "loyalty.AdjustmentRequest": (
            data["points_adjustment_requests"][0]["reason"] == "Make good the broken till 4"
            and data["points_adjustment_requests"][0]["status"] == "pending"
        ),
        "loyalty.Pause": (
            data["pauses"][0]["reason"] == "A hard winter" and data["pauses"][0]["months"] == 2
        ),
        "rewards.Redemption": data["vouchers"][0]["reward"] == "Free coffee",
        "rewards.Voucher": data["vouchers"][0]["code"] == everything["voucher"].code,
        "webhooks.WebhookEvent": [
            e["said"]["purchase"] for e in data["told_partners"] if e["event"] == "points.earned"
        ]
        == ["SALE-77"],
        "webhooks.WebhookDelivery": {
            (to["partner"], to["status"]) for e in data["told_partners"] for to in e["sent_to"]
        }
        == {("Corner Shop", "Pending")},
        "rewards.OccasionGrant": [g["date"] for g in data["occasion_gifts"]] == ["2026-06-01"],
        "rewards.SavingGoal": data["saving_goal"][0]["reward"] == "Hamper",
        "rewards.Gift": (
            data["gifts"][0]["note"] == "For your patience at till 4"
            and data["gifts"][0]["card"] == "Thank you for staying (en)"
        ),
        "notifications.Message": (
            messages.count() >= 3
            and sorted(m["subject"] for m in data["messages"])
            == sorted(messages.values_list("subject", flat=True))
        ),
        "feedback.FeedbackItem": data["feedback"][0]["text"] == "The cashier at till 4 was rude",
        "feedback.FeedbackAnswer": (
            data["feedback"][0]["answers"][0]["what_was_done"] == "We spoke with the cashier"
        ),
        "feedback.PublishedCase": data["feedback"][0]["published"][0]["we_did"]
        == "Kindness training for all",
        "feedback.SurveyResponse": data["surveys"][0]["recommend"] == 9,
        "referrals.ReferralCode": data["referrals"]["code"] == member.referral_code.display_code,
        "referrals.Referral": (
            data["referrals"]["made"][0]["friend"] == {"name": "J***", "email": "j***@e***.com"}
            and data["referrals"]["received"]["friend"]
            == {"name": "R***", "email": "r***@e***.com"}
        ),
        "referrals.Invitation": data["invitations"][0]["friend_email"] == "p***@e***.org",
        "referrals.SignupFingerprint": data["sign_up"]["device_hash_stored"] is True,
        "insights.MemberInsight": data["insights"]["profile"]["rung"]
        == MemberInsight.objects.get(member=member).rung,
        "insights.RungChange": len(data["insights"]["rung_changes"])
        == RungChange.objects.filter(member=member).count()
        >= 1,
        "insights.Outreach": data["insights"]["contacts"][0]["note"]
        == "Called about the cashier; she was glad",
        "insights.CampaignMember": (
            CampaignMember.objects.filter(member=member).exists()
            and data["insights"]["campaigns"][0]["campaign"] == "Summer hello 2026"
        ),
    }
    covered = {label for section in export.SECTIONS for label in section.models}
    assert set(found) == covered, "a covered model has no row in this test's member"
    assert [label for label, ok in found.items() if not ok] == []
    # and: nobody else's full address or number, no staff account, no raw fingerprint
    for other in (everything["referrer"], everything["friend"]):
        assert other.user.email not in text
        assert other.member_number not in text
    assert "petras.invited@example.org" not in text
    assert staff.email not in text
    assert "device-hash-never-shown" not in text
    # and: kinds are worded in the member's language, dates are ISO 8601
    assert data["feedback"][0]["kind_label"] == "Complaint"
    assert datetime.fromisoformat(data["purchases"][0]["occurred_at"])
    assert data["consents"] == {
        "email_messages": True,
        "email_offers": False,
        "feedback_publish_consent": [data["feedback"][0]["number"]],
    }


def test_labels_are_in_the_members_language(everything):
    # given
    member = everything["member"]
    Member.objects.filter(pk=member.pk).update(language="lt")
    # when
    data = export.member_data_export(member=Member.objects.get(pk=member.pk))
    # then
    assert data["feedback"][0]["kind_label"] == "Skundas"
