"""GET /api/v1/members/{n}/ from one prepared statement (members.api_member.member_answer)
answers exactly as member_full through the ORM, for members in every state it reads."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.errors import MemberNotFound
from accounts.models import Member
from accounts.services import member_by_number, partner_update
from loyalty.core import pauses
from loyalty.core.purchases import purchase_record
from members.api import LedgerLineSerializer, ledger_line, ledger_lines, ledger_lines_word
from members.api_member import member_answer, member_full, member_ref
from referrals.models import ReferralCode
from tests import factories

pytestmark = pytest.mark.django_db


def both(member: Member) -> tuple[dict, dict]:
    number = member.member_number
    return member_answer(number), dict(member_full(member_by_number(number)))


def buy(partner, member, external_id: str, amount: str):
    return purchase_record(
        partner=partner, member=member, external_id=external_id, amount=amount, currency="EUR"
    )


def test_a_member_with_purchases_lots_and_a_next_tier(member, partner, base_rule):
    buy(partner, member, "p1", "40.00")
    buy(partner, member, "p2", "25.50")
    factories.give_points(member, 30)
    fast, full = both(member)
    assert fast == full
    assert fast["tier"]["code"] == "bronze" and fast["next_tier"]["code"] == "silver"
    # the purchases count towards the tier, the gift does not
    assert fast["next_tier"]["points_needed"] == 500 - 65
    assert fast["points_balance"] == 95
    # (the gift never expires)
    assert fast["points_expiring"][0]["points"] == 65 and fast["referral_code"]


def test_one_statement_on_postgresql(member):
    member_answer(member.member_number)  # (prepares it)
    with CaptureQueriesContext(connection) as captured:
        member_answer(member.member_number)
    if connection.vendor == "postgresql":
        assert len(captured) == 1


def test_the_top_tier_and_no_tier(member, tiers):
    plain = factories.make_member()
    Member.objects.filter(pk=member.pk).update(tier=tiers["gold"])
    Member.objects.filter(pk=plain.pk).update(tier=None)
    for someone in (member, plain):
        fast, full = both(someone)
        assert fast == full
    assert both(member)[0]["next_tier"] is None
    assert both(plain)[0]["tier"] is None and both(plain)[0]["next_tier"]["code"] == "bronze"


def test_no_tiers_at_all(db):
    member = factories.make_member()
    fast, full = both(member)
    assert fast == full and fast["tier"] is None and fast["next_tier"] is None


def test_a_member_without_a_code_gets_one_as_before(member):
    ReferralCode.objects.filter(member=member).delete()
    code = member_answer(member.member_number)["referral_code"]
    assert len(code) == 8 and ReferralCode.objects.get(member=member).code == code
    fast, full = both(member)
    assert fast == full


def test_a_paused_member_with_pending_points(member, partner, base_rule, staff_user):
    buy(partner, member, "a", "10")
    pauses.pause_start(member=member, months=1, reason="Illness", staff_user=staff_user)
    partner = partner_update(partner=partner, changes={"return_window_days": 14})
    buy(partner, member, "b", "12")
    member.refresh_from_db()
    assert member.status == Member.Status.PAUSED and member.points_pending == 12
    fast, full = both(member)
    assert fast == full
    assert fast["paused_until"] and fast["pending_available_on"]
    assert fast["pending"] == [{"points": 12, "available_on": fast["pending_available_on"]}]


def test_unknown_closed_and_malformed_numbers(member):
    Member.objects.filter(pk=member.pk).update(status=Member.Status.CLOSED)
    for number in (member.member_number, "000000000", "not a number"):
        with pytest.raises(MemberNotFound):
            member_answer(number)


def test_only_lots_still_to_expire_are_listed(member):
    today = timezone.localdate()
    factories.give_points(member, 50, expires_on=today)  # expires today: no longer ahead
    factories.give_points(member, 20, expires_on=today + timedelta(days=3))
    factories.give_points(member, 5, expires_on=today + timedelta(days=3))
    fast, full = both(member)
    assert fast == full
    assert fast["points_expiring"] == [
        {"points": 25, "expires_on": (today + timedelta(days=3)).isoformat()}
    ]


# --- the ledger's answer -------------------------------------------------------------------------


def test_ledger_lines_render_as_their_serializer(member, partner, base_rule):
    other = factories.make_partner("Other Shop")
    buy(partner, member, "mine", "12.00")
    buy(other, member, "theirs", "7.00")
    factories.give_points(member, 5)
    entries = ledger_lines_word(
        ledger_lines(member_ref(member.member_number)), language="lt", partner_id=partner.pk
    )
    lines = [ledger_line(entry) for entry in entries]
    assert lines == LedgerLineSerializer(entries, many=True).data
    assert len(lines) == 3 and "mine" in lines[-1]["description"]
    assert "theirs" not in lines[1]["description"]  # another partner's id is theirs alone


def test_member_ref_reads_only_an_open_membership(member):
    found = member_ref(member.member_number)
    assert (found.pk, found.language, found.points_pending) == (member.pk, "lt", 0)
    Member.objects.filter(pk=member.pk).update(status=Member.Status.CLOSED)
    with pytest.raises(MemberNotFound):
        member_ref(member.member_number)


def test_a_ledger_page_takes_as_many_queries_for_many_lines_as_for_few(
    member, partner, base_rule, staff_user
):
    # given: a friend of the member, with lines every wording words (a purchase, a gift, an
    # adjustment, their referral's bonus, which reads the entry's member)
    from loyalty.core.ledger import points_credit
    from loyalty.core.models import LedgerEntry
    from referrals.models import Referral
    from referrals.selectors import referral_code_for

    friend = factories.make_member(referral_code=referral_code_for(member=member))
    referral = Referral.objects.get(referee=friend)

    def add_lines(n: int) -> None:
        buy(partner, friend, f"f{n}", "5.00")
        factories.give_points(friend, 3)
        points_credit(member=friend, points=10, kind=LedgerEntry.Kind.GIFT, cause=referral)
        points_credit(
            member=friend, points=1, kind=LedgerEntry.Kind.ADJUST, reason="x", staff_user=staff_user
        )

    def page_queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            found = member_ref(friend.member_number)
            entries = ledger_lines_word(ledger_lines(found), language="en", partner_id=partner.pk)
            lines = [ledger_line(entry) for entry in entries]
        assert all(line["description"] for line in lines)
        return len(captured)

    add_lines(0)
    few = page_queries()
    for n in range(1, 4):
        add_lines(n)

    # then
    assert page_queries() == few


def test_the_members_tier_is_read_with_them_not_from_the_process_cache(member, tiers):
    from loyalty.core.models import Tier

    member_answer(member.member_number)  # (the tiers are in the process's cache now)
    Tier.objects.filter(pk=tiers["bronze"].pk).update(name="Copper")  # (no signal: cache stale)
    fast, full = both(member)
    assert fast == full and fast["tier"]["name"] == "Copper"
