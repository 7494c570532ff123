"""Points adjustments with a second pair of eyes (issue 18).

Staff with "loyalty.adjust_points_above_limit" (managers) adjust any amount at once. Others
adjust up to the policy's limit per action, added or taken away; above it their adjustment
becomes a pending AdjustmentRequest, and nothing is written to the ledger until a manager
approves it. Approval locks the request row alone, so approving twice writes one entry.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import Member
from loyalty.base.errors import InvalidInput, NotAllowed, ReasonRequired

from .adjustment_models import LIMIT_CEILING, AdjustmentPolicy, AdjustmentRequest
from .errors import AdjustmentDecided, InvalidPoints
from .ledger import MAX_POINTS, points_adjust
from .models import LedgerEntry

APPROVE_PERMISSION = "loyalty.adjust_points_above_limit"
POLICY_FIELDS = ("support_limit",)


def adjustment_policy() -> AdjustmentPolicy:
    """The policy's one row (created by the migration; made again if it is missing)."""
    return AdjustmentPolicy.objects.get_or_create(pk=1)[0]


@transaction.atomic
def adjustment_policy_update(*, staff_user, support_limit: int) -> AdjustmentPolicy:
    """A manager sets how many points staff may adjust alone per action."""
    if staff_user is None or not staff_user.has_perm("loyalty.change_adjustmentpolicy"):
        raise NotAllowed()
    if isinstance(support_limit, bool) or not 0 <= support_limit <= LIMIT_CEILING:
        raise InvalidInput("The limit is a whole number of points.", field="support_limit")
    policy, _created = AdjustmentPolicy.objects.select_for_update().get_or_create(pk=1)
    policy.support_limit = support_limit
    policy.save(update_fields=["support_limit", "updated_at"])
    return policy


def needs_approval(*, staff_user, points: int, policy: AdjustmentPolicy | None = None) -> bool:
    if staff_user.has_perm(APPROVE_PERMISSION):
        return False
    policy = policy or adjustment_policy()
    return abs(points) > policy.support_limit


def _check(*, staff_user, points, reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired()
    if len(reason) > 500:
        raise InvalidInput("A reason has at most 500 characters.", field="reason")
    if staff_user is None or not staff_user.is_staff:
        raise NotAllowed("Only staff can adjust points.")
    if (
        isinstance(points, bool)
        or not isinstance(points, int)
        or points == 0
        or abs(points) > MAX_POINTS
    ):
        raise InvalidPoints("Adjust by a non-zero whole number of points.")
    return reason


@transaction.atomic
def points_adjust_or_request(
    *, member: Member, points: int, staff_user, reason: str
) -> LedgerEntry | AdjustmentRequest:
    """Adjust at once within the staff user's limit; otherwise ask a manager (no entry yet)."""
    reason = _check(staff_user=staff_user, points=points, reason=reason)
    if not needs_approval(staff_user=staff_user, points=points):
        return points_adjust(member=member, points=points, staff_user=staff_user, reason=reason)
    return AdjustmentRequest.objects.create(
        member=member, points=points, reason=reason, requested_by=staff_user
    )


def _decide(*, request_id: int, staff_user) -> AdjustmentRequest:
    if staff_user is None or not staff_user.is_staff or not staff_user.has_perm(APPROVE_PERMISSION):
        raise NotAllowed("Only a manager can decide on a points adjustment.")
    # the request row alone; the member is locked by the ledger when it writes
    request = (
        AdjustmentRequest.objects.select_for_update(of=("self",))
        .select_related("member")
        .get(pk=request_id)
    )
    if request.status != AdjustmentRequest.Status.PENDING:
        raise AdjustmentDecided()
    return request


@transaction.atomic
def adjustment_approve(*, request_id: int, staff_user) -> AdjustmentRequest:
    """Write the asked-for entry (by the approver, with the asker's reason) and link it."""
    request = _decide(request_id=request_id, staff_user=staff_user)
    request.entry = points_adjust(
        member=request.member,
        points=request.points,
        staff_user=staff_user,
        reason=request.reason,
    )
    request.status = AdjustmentRequest.Status.APPROVED
    request.decided_by = staff_user
    request.decided_at = timezone.now()
    request.save(update_fields=["entry", "status", "decided_by", "decided_at"])
    return request


@transaction.atomic
def adjustment_refuse(*, request_id: int, staff_user) -> AdjustmentRequest:
    """Nothing is written to the ledger; the asker sees the refusal on their list."""
    request = _decide(request_id=request_id, staff_user=staff_user)
    request.status = AdjustmentRequest.Status.REFUSED
    request.decided_by = staff_user
    request.decided_at = timezone.now()
    request.save(update_fields=["status", "decided_by", "decided_at"])
    return request
