"""The one shared assertion of the ledger invariants, used after every test that touches the DB."""

from collections import defaultdict

from django.db.models import Sum

from accounts.models import Member
from loyalty.core.models import LedgerEntry, LotMovement, PointLot


def assert_ledger_invariants() -> None:
    """For every member: balance == sum of entries == sum of lot remainders, never negative;
    every lot's remainder == its points plus its movements; balance_after runs without gaps."""
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
