"""The first page of a member's ledger from one prepared statement (members.api_ledger) answers
exactly as through the ORM: lines of every kind, their words, the page's links."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from loyalty.core.expiry import points_expire
from loyalty.core.ledger import points_credit
from loyalty.core.models import LedgerEntry
from loyalty.core.purchases import purchase_record
from loyalty.core.refunds import purchase_refund
from rewards.services import reward_redeem
from tests import factories
from tests.api.conftest import make_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def lines(member, partner, base_rule, tiers, staff_user):
    """A member whose ledger has a line of every wording: purchases here and elsewhere, a
    refund, a gift, an adjustment, a redemption, points that expired."""
    other = factories.make_partner("Other Shop")
    for shop, external_id, amount in ((partner, "OURS-1", "40.00"), (other, "THEIRS-1", "25.00")):
        purchase_record(
            partner=shop, member=member, external_id=external_id, amount=amount, currency="EUR"
        )
    purchase = purchase_record(
        partner=partner, member=member, external_id="OURS-2", amount="30.00", currency="EUR"
    ).purchase
    purchase_refund(purchase=purchase, external_id="R-1", amount="10.00")
    factories.give_points(member, 200)
    points_credit(
        member=member,
        points=5,
        kind=LedgerEntry.Kind.ADJUST,
        reason="till 4",
        staff_user=staff_user,
    )
    reward_redeem(member=member, reward=factories.make_reward(slug="tea", points_cost=100))
    today = timezone.localdate()
    points_credit(
        member=member,
        points=7,
        kind=LedgerEntry.Kind.GIFT,
        cause=member,
        expires_on=today - timedelta(days=1),
    )
    points_expire(member=member, today=today)
    return member


def ledger(api, member, query: str = "") -> dict:
    response = api.get(f"/api/v1/members/{member.member_number}/ledger/{query}")
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("query", ["", "?page_size=3", "?page_size=2&language=en"])
def test_the_first_page_answers_as_through_the_orm(lines, partner, monkeypatch, query):
    api = make_client(partner)
    prepared = ledger(api, lines, query)
    monkeypatch.setitem(connection.settings_dict, "PREPARED_STATEMENTS", False)  # the ORM's
    assert ledger(api, lines, query) == prepared
    assert prepared["results"]


def test_the_next_page_follows_the_prepared_first_one(lines, partner):
    api = make_client(partner)
    first = ledger(api, lines, "?page_size=3")
    second = api.get(first["next"]).json()
    everything = ledger(api, lines, "?page_size=50")["results"]
    assert first["previous"] is None and second["previous"]
    assert first["results"] + second["results"] == everything[:6]
    # (the lines the answers were compared on are of every kind a member's ledger has)
    kinds = {line["kind"] for line in everything}
    assert {"earn", "reversal", "gift", "adjust", "spend", "expire"} <= kinds, kinds


def test_the_first_pages_lines_are_one_statement_on_postgresql(lines, partner):
    api = make_client(partner)
    ledger(api, lines)  # (prepares it)
    with CaptureQueriesContext(connection) as captured:
        ledger(api, lines)
    line_reads = [
        q["sql"]
        for q in captured
        if "loyalty_ledgerentry" in q["sql"] or "members_ledger_first_page" in q["sql"]
    ]
    if connection.vendor == "postgresql":
        assert len(line_reads) == 1 and "EXECUTE members_ledger" in line_reads[0], line_reads
