"""Erasure settles what closing would, finds the person's values only where they really are,
retires the old number and tells partners only that the member was erased
(loyalty.core.erasure, loyalty.base.personal)."""

from datetime import date

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.errors import MemberIsStaff
from accounts.models import Erasure, Member, User
from loyalty.core.erasure import member_erase
from loyalty.core.ledger import points_adjust
from loyalty.core.models import IdempotencyRecord, LedgerEntry, PointLot
from notifications.models import OutgoingEmail
from rewards.gifts import gift_send
from rewards.models import CardTemplate, Gift, Voucher
from rewards.services import reward_redeem
from tests import factories
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services import endpoint_create

EMAIL = "zenobia.quillfeather@example.com"

pytestmark = pytest.mark.postgres


@pytest.fixture
def manager(db):
    return User.objects.create_superuser(email="manager@example.com", password="x")


@pytest.fixture
def zenobia(tiers):
    member = factories.make_member(email=EMAIL, first_name="Zenobia")
    factories.give_points(member, 300, expires_on=date(2099, 1, 1))
    reward_redeem(member=member, reward=factories.make_reward(slug="coffee", points_cost=100))
    member.refresh_from_db()
    return member


def test_erasing_a_membership_closed_by_a_bare_status_change_settles_it(zenobia, manager):
    # given: staff closed it with the status alone: the voucher and the points are still there
    account_services.member_set_status(
        member=zenobia, status=Member.Status.CLOSED, staff_user=manager, reason="Moved away"
    )
    assert Voucher.objects.get().status == Voucher.Status.ISSUED
    # when
    member_erase(member=zenobia, staff_user=manager, reason="Request #7")
    # then: the voucher is cancelled, every point expired, the membership still closed
    zenobia.refresh_from_db()
    assert (zenobia.status, zenobia.points_balance) == (Member.Status.CLOSED, 0)
    assert Voucher.objects.get().status == Voucher.Status.CANCELLED
    assert not PointLot.objects.filter(member=zenobia, remaining__gt=0).exists()
    expired = LedgerEntry.objects.filter(member=zenobia, kind=LedgerEntry.Kind.EXPIRE)
    assert [e.points for e in expired] == [-300]


def test_a_staff_users_membership_is_neither_closed_nor_erased(tiers, manager):
    # given: a clerk who also collects points
    clerk = factories.make_member(email="clerk@example.com")
    User.objects.filter(pk=clerk.user_id).update(is_staff=True)
    clerk = Member.objects.get(pk=clerk.pk)
    # when / then
    with pytest.raises(MemberIsStaff):
        member_erase(member=clerk, staff_user=manager, reason="Request #8")
    clerk.refresh_from_db()
    assert clerk.status == Member.Status.ACTIVE and clerk.user.is_active
    assert clerk.user.email == "clerk@example.com" and not Erasure.objects.exists()


def test_a_gifts_note_is_blanked_whatever_it_says(zenobia, manager):
    # given: a note without the name, still written to the person
    gift_send(
        member=zenobia,
        what=Gift.What.CARD,
        template=CardTemplate.objects.first(),
        staff_user=manager,
        note="Get well soon after the surgery.",
    )
    # when
    member_erase(member=zenobia, staff_user=manager, reason="Request #9")
    # then
    assert Gift.objects.get().note == ""


def test_another_members_receipt_holding_the_number_digits_is_left_alone(zenobia, manager, partner):
    # given: another member's entry and a partner's stored answer whose receipt ids merely
    # contain the nine digits, and one that quotes the number itself
    number = zenobia.member_number
    other = factories.make_member(email="other@example.com")
    receipt = f"Goodwill for receipt R{number}7"
    entry = points_adjust(member=other, points=5, staff_user=manager, reason=receipt)
    kept = IdempotencyRecord.objects.create(
        partner=partner,
        key="a",
        request_hash="h",
        response_status=201,
        response_body=f'{{"external_id":"R{number}7"}}',
    )
    quoted = IdempotencyRecord.objects.create(
        partner=partner,
        key="b",
        request_hash="h",
        response_status=201,
        response_body=f'{{"member_number":"{number}"}}',
    )
    # when
    member_erase(member=zenobia, staff_user=manager, reason="Request #10")
    # then
    assert LedgerEntry.objects.get(pk=entry.pk).reason == receipt
    kept.refresh_from_db()
    quoted.refresh_from_db()
    assert (kept.response_status, kept.response_body) == (201, f'{{"external_id":"R{number}7"}}')
    assert quoted.response_status == 404 and number not in quoted.response_body


def test_an_erased_number_is_never_given_to_a_new_member(zenobia, manager, monkeypatch):
    # given
    old = zenobia.member_number
    member_erase(member=zenobia, staff_user=manager, reason="Request #11")
    assert Erasure.objects.get().retired_number != old  # a digest, not the number
    # when: the generator happens to draw the retired number first
    draws = iter([old, "123456782"])
    monkeypatch.setattr(account_services, "new_member_number", lambda: next(draws))
    # then
    assert account_services.member_number_unused() == "123456782"


def test_an_erasure_tells_partners_only_that_the_member_was_erased(zenobia, manager, partner):
    # given: an endpoint that wants every event
    endpoint_create(partner=partner, url="https://partner.example.com/hook", secret="s" * 32)
    # when: the erasure cancels the voucher and expires the points
    member_erase(member=zenobia, staff_user=manager, reason="Request #12")
    # then: no points.reversed or points.expired about "[erased]", only member.erased
    assert list(WebhookEvent.objects.values_list("type", flat=True)) == ["member.erased"]
    assert Voucher.objects.get().status == Voucher.Status.CANCELLED


def test_delivery_and_outbox_errors_quoting_the_person_are_scrubbed(zenobia, manager, partner):
    # given: a failed delivery and a failed e-mail whose errors quote her
    endpoint = endpoint_create(
        partner=partner, url="https://partner.example.com/hook", secret="s" * 32
    )
    event = WebhookEvent.objects.create(type="tier.changed", payload={}, created_at=timezone.now())
    delivery = WebhookDelivery.objects.create(
        event=event,
        endpoint=endpoint,
        retry_until=timezone.now(),
        last_error=f"422: unknown member {zenobia.member_number}",
    )
    email = OutgoingEmail.objects.create(
        kind="escalation", object_id=1, last_error=f"550 mailbox {EMAIL} unavailable"
    )
    # when
    member_erase(member=zenobia, staff_user=manager, reason="Request #13")
    # then
    assert WebhookDelivery.objects.get(pk=delivery.pk).last_error == "422: unknown member [erased]"
    assert OutgoingEmail.objects.get(pk=email.pk).last_error == "550 mailbox [erased] unavailable"
