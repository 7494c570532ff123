"""A member's tier changes while a purchase, a redemption or an anniversary batch waits for the
member's row lock: each must go on with the new tier, never a 500 or a failed batch.

Two real connections on PostgreSQL: one holds the member's row while it moves them to another
tier, the other starts its work (which waits for that lock), then the first commits. A lock that
joined the tier into the locking statement came back with the new tier_id and NULL tier columns
(READ COMMITTED re-reads only the locked row after the wait).
"""

import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection, transaction

from accounts.models import Member
from loyalty.core.buyer import member_for_purchase
from loyalty.core.jobs import job_run
from loyalty.core.models import LedgerEntry, Purchase
from rewards.models import OccasionGrant, Redemption
from rewards.services import reward_redeem
from tests import factories
from tests.api.conftest import make_client

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        # (a transaction sees pg_stat_activity as it was at its first look unless told to look
        # again: without this the holder never saw the waiter and waited out its 10 s)
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def _while_the_tier_changes(member: Member, new_tier, work):
    """Run `work` on its own connection while another holds the member's row and moves them to
    `new_tier`; the move commits once `work` waits for the lock. What `work` returned or raised."""
    held, done = threading.Event(), threading.Event()
    outcome = {}

    def hold():
        try:
            with transaction.atomic():
                Member.objects.select_for_update().get(pk=member.pk)
                Member.objects.filter(pk=member.pk).update(tier=new_tier)
                held.set()
                deadline = time.monotonic() + 10
                while not _waiting_for_a_lock() and time.monotonic() < deadline:
                    time.sleep(0.02)
        finally:
            connection.close()

    def run():
        try:
            outcome["result"] = work()
        except Exception as exc:  # asserted below
            outcome["error"] = exc
        finally:
            connection.close()
            done.set()

    holder = threading.Thread(target=hold)
    holder.start()
    assert held.wait(10)
    worker = threading.Thread(target=run)
    worker.start()
    holder.join(20)
    worker.join(20)
    assert done.is_set()
    return outcome


def test_a_purchase_that_waited_for_the_lock_earns_with_the_new_tier():
    # given: a silver member (x1.25), moved to gold (x1.5) while their purchase waits
    tiers = factories.make_tiers()
    factories.make_rule(name="Base", points_per_unit=Decimal(1))
    partner = factories.make_partner("Till")
    member = factories.make_member()
    Member.objects.filter(pk=member.pk).update(tier=tiers["silver"])
    client = make_client(partner)
    body = {
        "member_number": member.member_number,
        "external_id": "P-1",
        "amount": "100.00",
        "currency": "EUR",
    }
    # when
    outcome = _while_the_tier_changes(
        member, tiers["gold"], lambda: client.post("/api/v1/purchases/", body)
    )
    # then
    response = outcome.get("result")
    assert response is not None, outcome
    assert response.status_code == 201, response.content
    assert response.json()["points_earned"] == 150
    assert response.json()["member"]["tier"]["code"] == "gold"
    assert Purchase.objects.get().points_earned == 150


def test_the_buyers_lookup_that_waited_for_the_lock_reads_the_new_tier_whole():
    # given: a silver member, moved to gold while the purchase's lookup waits for their row
    tiers = factories.make_tiers()
    member = factories.make_member()
    Member.objects.filter(pk=member.pk).update(tier=tiers["silver"])

    def look_up():
        with transaction.atomic():
            buyer = member_for_purchase(member.member_number)
            return buyer.member.tier_id, buyer.member.tier

    # when
    outcome = _while_the_tier_changes(member, tiers["gold"], look_up)
    # then: the new tier, all of it (the API's retry without the race would hide a torn read)
    tier_id, tier = outcome["result"]
    assert tier_id == tiers["gold"].pk
    assert (tier.pk, tier.code, tier.earn_multiplier) == (tiers["gold"].pk, "gold", Decimal("1.5"))


def test_a_redemption_that_waited_for_the_lock_gets_the_new_tiers_discount():
    # given: a bronze member with points, moved to gold (10% off) while they redeem
    tiers = factories.make_tiers()
    member = factories.make_member()
    Member.objects.filter(pk=member.pk).update(tier=tiers["bronze"])
    factories.give_points(member, 500)
    reward = factories.make_reward(points_cost=200)
    # when
    outcome = _while_the_tier_changes(
        member, tiers["gold"], lambda: reward_redeem(member=member, reward=reward)
    )
    # then
    assert "error" not in outcome, outcome
    assert Redemption.objects.get().points_spent == 180
    member.refresh_from_db()
    assert member.points_balance == 320


def test_an_anniversary_batch_that_waited_for_the_lock_pays_the_new_tiers_bonus(settings):
    # given: a bronze member on their first anniversary, moved to gold while the batch waits
    tiers = factories.make_tiers()
    for code, base in [("bronze", 10), ("gold", 100)]:
        tiers[code].anniversary_bonus_base = base
        tiers[code].save(update_fields=["anniversary_bonus_base"])
    member = factories.make_member(joined_on=date(2025, 3, 1))
    Member.objects.filter(pk=member.pk).update(tier=tiers["bronze"])
    # when
    outcome = _while_the_tier_changes(
        member, tiers["gold"], lambda: job_run(name="anniversary", day=date(2026, 3, 1))
    )
    # then: the batch did not fail, and paid gold's bonus once
    run = outcome.get("result")
    assert run is not None, outcome
    assert (run.errors, run.paid) == (0, 1), run.error_log
    assert OccasionGrant.objects.get(member=member).points == 100
    assert LedgerEntry.objects.get(member=member, kind="gift").points == 100
