"""The one shared assertion of the ledger invariants, used after every test that touches the DB."""

from collections import defaultdict

from django.db.models import F, Sum

from accounts.models import Member
from loyalty.core.models import LedgerEntry, LotMovement, PendingPoints, PointLot, Refund


def assert_ledger_invariants() -> None:
    """For every member: balance == sum of entries == sum of lot remainders, never negative;
    every lot's remainder == its points plus its movements; balance_after runs without gaps.
    Pending points (loyalty.core.pending) stand outside: see assert_pending_invariants."""
    entry_sums = dict(
        LedgerEntry.objects.values_list("member_id").annotate(total=Sum("points")).order_by()
    )
    lot_sums = dict(
        PointLot.objects.values_list("member_id").annotate(total=Sum("remaining")).order_by()
    )
    for member_id, balance in Member.objects.values_list("id", "points_balance"):
        assert balance >= 0, f"member {member_id} has a negative balance {balance}"
        assert balance == entry_sums.get(member_id, 0), (
            f"member {member_id}: balance {balance} != sum of entries {entry_sums.get(member_id)}"
        )
        assert balance == lot_sums.get(member_id, 0), (
            f"member {member_id}: balance {balance} != sum of lots {lot_sums.get(member_id)}"
        )
    moved = dict(LotMovement.objects.values_list("lot_id").annotate(total=Sum("points")).order_by())
    for lot_id, points, remaining in PointLot.objects.values_list("id", "points", "remaining"):
        assert 0 <= remaining <= points, f"lot {lot_id} remaining {remaining} of {points}"
        assert remaining == points + moved.get(lot_id, 0), f"lot {lot_id} disagrees with movements"
    running: dict[int, int] = defaultdict(int)
    for member_id, points, after in LedgerEntry.objects.order_by("id").values_list(
        "member_id", "points", "balance_after"
    ):
        running[member_id] += points
        assert running[member_id] == after, f"member {member_id}: balance_after breaks the chain"
    assert_pending_invariants()


def assert_pending_invariants() -> None:
    """A member's points_pending == the sum of their open pending points (points less the
    cancelled), never negative; a released purchase has one earn entry, for exactly what was not
    cancelled, written by the release; a purchase still pending or cancelled has none; the
    refunds of a purchase cancelled no more than its row records (all of it: a closing)."""
    Status = PendingPoints.Status
    open_sums = dict(
        PendingPoints.objects.filter(status=Status.PENDING)
        .values_list("member_id")
        .annotate(total=Sum(F("points") - F("cancelled")))
        .order_by()
    )
    for member_id, pending in Member.objects.values_list("id", "points_pending"):
        assert pending == open_sums.get(member_id, 0), (
            f"member {member_id}: points_pending {pending} != open {open_sums.get(member_id)}"
        )
    refunded = dict(
        Refund.objects.filter(points_cancelled__gt=0)
        .values_list("purchase_id")
        .annotate(total=Sum("points_cancelled"))
        .order_by()
    )
    earns = dict(
        LedgerEntry.objects.filter(kind=LedgerEntry.Kind.EARN, purchase__pending__isnull=False)
        .values_list("purchase_id")
        .annotate(total=Sum("points"))
        .order_by()
    )
    rows = PendingPoints.objects.select_related("purchase", "entry")
    for row in rows:
        assert row.points == row.purchase.points_earned, f"pending {row.pk} != its purchase"
        assert row.member_id == row.purchase.member_id, f"pending {row.pk}: another member"
        assert refunded.get(row.purchase_id, 0) <= row.cancelled, f"pending {row.pk}: refunds"
        if row.status == Status.RELEASED:
            entry = row.entry
            assert (entry.kind, entry.purchase_id, entry.member_id, entry.points) == (
                LedgerEntry.Kind.EARN,
                row.purchase_id,
                row.member_id,
                row.points - row.cancelled,
            ), f"pending {row.pk}: its release entry disagrees"
            assert earns.get(row.purchase_id) == entry.points, f"pending {row.pk}: two earns"
        else:
            assert row.purchase_id not in earns, f"pending {row.pk}: earned before its release"
            if row.status == Status.PENDING:
                assert refunded.get(row.purchase_id, 0) == row.cancelled, f"pending {row.pk}"
