"""Erasure: staff erase a member's personal data; nothing personal remains anywhere in the
database, while the ledger, purchases and totals stay as they were (loyalty.core.erasure)."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.db.models import Count, Sum
from django.urls import reverse
from django.utils import timezone

from accounts.models import Erasure, Member, User
from feedback.services import feedback_answer, feedback_file
from feedback.surveys import survey_answer, survey_invite
from insights.figures import snapshot_figures
from insights.services import outreach_record
from loyalty.base.errors import NotAllowed, ReasonRequired
from loyalty.core.adjustments import points_adjust_or_request
from loyalty.core.closing import member_close
from loyalty.core.enrolment import member_enroll
from loyalty.core.erasure import ledger_texts_erasable, member_erase
from loyalty.core.ledger import points_adjust
from loyalty.core.models import IdempotencyRecord, LedgerEntry, Purchase
from loyalty.core.pauses import pause_request
from referrals.invitations import referral_invite
from referrals.services import referral_code_ensure
from rewards.gifts import gift_send
from rewards.models import CardTemplate, Gift, Voucher
from tests import factories
from tests.api.conftest import make_client
from tests.ledger import assert_ledger_invariants
from tests.webhooks import Receiver
from webhooks import delivery
from webhooks.models import WebhookEvent
from webhooks.services import endpoint_create

EMAIL = "zenobia.quillfeather@example.com"
FIRST, LAST = "Zenobia", "Quillfeather"
TEXT_TYPES = ("text", "character varying", "json", "jsonb")

pytestmark = pytest.mark.postgres


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def manager(db):
    return User.objects.create_superuser(email="manager@example.com", password="x")


def _tables_mentioning(*values: str) -> list[tuple[str, str, str]]:
    """(table, column, value) for every text, varchar or json column of every table in the
    database holding one of the values (case-insensitive)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type = ANY(%s)",
            [list(TEXT_TYPES)],
        )
        columns = cursor.fetchall()
        found = []
        for table, column in columns:
            for value in values:
                cursor.execute(
                    f'SELECT count(*) FROM "{table}" WHERE "{column}"::text ILIKE %s',
                    [f"%{value}%"],
                )
                if cursor.fetchone()[0]:
                    found.append((table, column, value))
    return found


def _totals() -> dict:
    day = timezone.localdate()
    return {
        "balances": Member.objects.aggregate(s=Sum("points_balance"))["s"],
        "entries": LedgerEntry.objects.aggregate(n=Count("id"), s=Sum("points")),
        "purchases": Purchase.objects.aggregate(n=Count("id"), s=Sum("amount")),
        "figures": snapshot_figures(day),
    }


def _enrolment(code: str) -> dict:
    return {
        "email": EMAIL,
        "first_name": FIRST,
        "last_name": LAST,
        "birthday": "1990-07-14",
        "referral_code": code,
    }


def _a_member_with_data_everywhere(api, partner, manager, admin_client, client):
    """Zenobia, enrolled by a partner, with purchases, a voucher, feedback, a survey, referrals
    both ways, an invitation, messages, webhook events, idempotency records, admin history,
    an outreach note, a gift with a card and a failed login."""
    referrer = factories.make_member(email="ruta@example.com", first_name="Ruta")
    code = referral_code_ensure(member=referrer).code
    enrolled = api.post("/api/v1/members/", _enrolment(code), idempotency_key="enrol-z")
    assert enrolled.status_code == 201, enrolled.content
    number = enrolled.json()["member_number"]
    member = Member.objects.get(member_number=number)
    for i, amount in enumerate(["120.00", "80.50"]):
        response = api.post(
            "/api/v1/purchases/",
            {
                "member_number": number,
                "external_id": f"Z-{i}",
                "amount": amount,
                "currency": "EUR",
                "payment_fingerprint": f"card-{i}",
            },
        )
        assert response.status_code == 201, response.content
    factories.make_reward(slug="coffee", points_cost=50)
    redeemed = api.post("/api/v1/redemptions/", {"member_number": number, "reward": "coffee"})
    assert redeemed.status_code == 201, redeemed.content
    friend = member_enroll(
        email="friend.of.z@example.com", referral_code=referral_code_ensure(member=member).code
    )
    referral_invite(referrer=member, email="another.friend@example.com", vouched=True)
    referral_invite(referrer=referrer, email=EMAIL.upper())  # another member invited her
    item = feedback_file(
        member=member,
        kind="complaint",
        category="service",
        text=f"I am {FIRST} {LAST} ({EMAIL}) and the till was rude.",
    )
    feedback_answer(item=item, author=manager, what_was_done=f"Dear {FIRST}, we spoke to the team.")
    survey_invite(member=member, trigger="purchase")
    survey_answer(member=member, would_tell=4, recommend=9)
    outreach_record(member=member, staff=manager, note=f"Called {FIRST} {LAST} about the till.")
    pause_request(member=member, months=1, reason=f"{FIRST} {LAST} lost her job")
    agent = User.objects.create_user(email="agent@example.com", password="x", is_staff=True)
    points_adjust_or_request(
        member=member, points=900, staff_user=agent, reason=f"{FIRST} was overcharged"
    )
    gift_send(
        member=member,
        what=Gift.What.CARD,
        template=CardTemplate.objects.first(),
        staff_user=manager,
        note=f"For {FIRST} {LAST}, with thanks.",
    )
    # another member's ledger entry quoting her number (a staff reason)
    points_adjust(
        member=friend, points=5, staff_user=manager, reason=f"Goodwill: brought by {number}"
    )
    adjusted = admin_client.post(
        reverse("admin:accounts_member_adjust_points", args=[member.pk]),
        {"points": 10, "reason": f"Sorry, {FIRST}"},
    )
    assert adjusted.status_code == 302
    client.post(reverse("members:login"), {"username": EMAIL, "password": "wrong-password"})
    member.refresh_from_db()
    return member, number


def test_erasure_leaves_no_personal_value_and_every_total_unchanged(
    db,
    tiers,
    partner,
    base_rule,
    manager,
    client,
    receiver,
    django_capture_on_commit_callbacks,
):
    # given: a member with data in every feature, who closed their account
    admin_client = type(client)()
    admin_client.force_login(manager)
    endpoint_create(partner=partner, url=receiver.url(), secret="s" * 32)
    api = make_client(partner)
    member, number = _a_member_with_data_everywhere(api, partner, manager, admin_client, client)
    assert Voucher.objects.filter(redemption__member=member, status="issued").count() == 1
    member_close(member=member, by=member.user)
    assert len(_tables_mentioning(EMAIL, FIRST, LAST, number)) > 8
    before = _totals()

    # when: a manager erases, and the webhook dispatcher runs
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:accounts_member_erase", args=[member.pk]),
            {"reason": "Request #4711 by e-mail", "confirm": "on"},
        )
    assert response.status_code == 302, response.content
    with django_capture_on_commit_callbacks(execute=True):
        delivery.deliveries_dispatch_due()

    # then: nothing personal anywhere
    assert _tables_mentioning(EMAIL, FIRST, LAST, number) == []
    member.refresh_from_db()
    assert member.member_number != number and member.status == Member.Status.CLOSED
    assert member.user.email == f"erased-{member.pk}@erased.invalid"
    assert not member.user.has_usable_password() and not member.user.is_active
    assert (member.birthday_month, member.birthday_day, member.birthday_year) == (None,) * 3
    erasure = Erasure.objects.get(member=member)
    assert (erasure.erased_by, erasure.reason) == (manager, "Request #4711 by e-mail")
    # the ledger and every total are as they were
    assert_ledger_invariants()
    assert _totals() == before
    # partners were told, and the event keeps no number once delivered
    told = [r for r in receiver.requests if b"member.erased" in r.body]
    assert len(told) == 1 and number.encode() in told[0].body
    event = WebhookEvent.objects.get(type="member.erased")
    assert event.payload["data"] == {"member_number": None}
    # the partner API knows no such member; a replayed enrolment says so too
    for response in (
        api.get(f"/api/v1/members/{number}/"),
        api.get(f"/api/v1/members/{member.member_number}/"),
        api.post(
            "/api/v1/purchases/",
            {"member_number": number, "external_id": "Z-9", "amount": "5", "currency": "EUR"},
        ),
    ):
        assert response.status_code == 404, response.content
        assert response.json()["code"] == "member_not_found"
    assert IdempotencyRecord.objects.filter(response_status=404).count() >= 1
    code = referral_code_ensure(member=Member.objects.get(user__email="ruta@example.com")).code
    replayed = api.post("/api/v1/members/", _enrolment(code), idempotency_key="enrol-z")
    assert replayed.status_code == 404 and replayed["Idempotent-Replayed"] == "true"
    assert replayed.json()["code"] == "member_not_found"
    assert not Member.objects.filter(user__email=EMAIL).exists()


def test_erasing_an_open_member_closes_the_account_first(db, tiers, manager):
    # given
    member = factories.make_member(email=EMAIL, first_name=FIRST, last_name=LAST)
    factories.give_points(member, 70)
    # when
    member_erase(member=member, staff_user=manager, reason="Request #1")
    # then
    member.refresh_from_db()
    assert (member.status, member.points_balance) == (Member.Status.CLOSED, 0)
    expired = LedgerEntry.objects.get(member=member, kind=LedgerEntry.Kind.EXPIRE)
    assert expired.points == -70
    assert _tables_mentioning(EMAIL, FIRST, LAST) == []


def test_the_erased_address_joins_again_as_a_new_member(db, tiers, partner, base_rule, manager):
    # given
    old = factories.make_member(email=EMAIL, first_name=FIRST)
    member_erase(member=old, staff_user=manager, reason="Request #2")
    api = make_client(partner)
    # when
    response = api.post("/api/v1/members/", {"email": EMAIL, "first_name": FIRST})
    # then
    assert response.status_code == 201, response.content
    new = Member.objects.get(user__email=EMAIL)
    assert new.pk != old.pk and new.status == Member.Status.ACTIVE
    assert response.json()["member_number"] == new.member_number


def test_only_staff_with_the_permission_may_erase(db, tiers, client):
    # given
    member = factories.make_member(email=EMAIL, first_name=FIRST)
    staff = User.objects.create_user(email="clerk@example.com", password="x", is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_member", "change_member"])
    )
    client.force_login(staff)
    url = reverse("admin:accounts_member_erase", args=[member.pk])
    # when
    page = client.get(url)
    posted = client.post(url, {"reason": "Because", "confirm": "on"})
    # then
    assert (page.status_code, posted.status_code) == (403, 403)
    with pytest.raises(NotAllowed):
        member_erase(member=member, staff_user=staff, reason="Because")
    member.refresh_from_db()
    assert member.user.email == EMAIL and member.status == Member.Status.ACTIVE
    assert not Erasure.objects.exists()
    # and a manager (the permission alone) may
    staff.user_permissions.add(Permission.objects.get(codename="erase_member"))
    staff = User.objects.get(pk=staff.pk)
    member_erase(member=member, staff_user=staff, reason="Request #3")
    assert Erasure.objects.filter(member=member).exists()


def test_a_reason_is_required(db, tiers, manager, client):
    # given
    member = factories.make_member(email=EMAIL, first_name=FIRST)
    client.force_login(manager)
    url = reverse("admin:accounts_member_erase", args=[member.pk])
    # when
    page = client.get(url)
    response = client.post(url, {"reason": "  ", "confirm": "on"})
    unconfirmed = client.post(url, {"reason": "Request #5"})
    # then
    assert page.status_code == 200 and EMAIL in page.content.decode()
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert unconfirmed.status_code == 200
    with pytest.raises(ReasonRequired):
        member_erase(member=member, staff_user=manager, reason="")
    member.refresh_from_db()
    assert member.user.email == EMAIL and not Erasure.objects.exists()


def test_a_member_is_erased_once(db, tiers, manager):
    member = factories.make_member(email=EMAIL)
    member_erase(member=member, staff_user=manager, reason="Request #6")
    with pytest.raises(Exception, match="erased already"):
        member_erase(member=member, staff_user=manager, reason="Request #6")
    assert Erasure.objects.count() == 1
    assert Decimal(0) == Decimal(Member.objects.get(pk=member.pk).points_balance)


def test_the_ledger_lets_only_its_texts_be_erased(db, tiers):
    # given
    from django.db import DatabaseError, transaction

    member = factories.make_member(email=EMAIL)
    entry = factories.give_points(member, 10)
    # when / then: outside an erasure, not even a description may change...
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(description="[erased]")
    assert LedgerEntry.objects.get(pk=entry.pk).description != "[erased]"
    # ...while an erasure runs, a description may be blanked...
    with transaction.atomic(), ledger_texts_erasable():
        LedgerEntry.objects.filter(pk=entry.pk).update(description="[erased]", reason="")
    assert LedgerEntry.objects.get(pk=entry.pk).description == "[erased]"
    # ...and once it is over, no longer
    with pytest.raises(DatabaseError), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).update(description="again")
    # points, balances, causes and deletes are refused by the database even during an erasure
    for change in (
        lambda: LedgerEntry.objects.filter(pk=entry.pk).update(points=11),
        lambda: LedgerEntry.objects.filter(pk=entry.pk).update(description="x", balance_after=0),
        lambda: LedgerEntry.objects.filter(pk=entry.pk).update(cause_id=None),
        lambda: LedgerEntry.objects.filter(pk=entry.pk)._raw_delete(connection.alias),
    ):
        with pytest.raises(DatabaseError), transaction.atomic(), ledger_texts_erasable():
            change()
    assert LedgerEntry.objects.get(pk=entry.pk).points == 10
