"""Tiers: the upgrade a purchase earns at once, and the monthly review with its grace period.

A tier is reached by qualifying points (selectors.qualifying_points: purchase points over the
rolling LOYALTY_TIER_WINDOW_DAYS). Upgrades happen at the purchase that reaches a higher tier;
a refund never downgrades. Downgrades belong to the monthly review (the `tier_review` job): a
member below their tier first gets a grace period and a kind word, and only after it moves down
one tier. Paused members are never downgraded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.models import Member
from accounts.services import members_locked
from notifications.params import PerLanguage
from notifications.services import message_send
from webhooks.services import event_emit, event_wanted

from .jobs import Counts, day_end, keyset
from .models import JobRun, Tier, TierChange
from .selectors import qualifying_points, qualifying_points_many, tiers_by_rank

# --- the upgrade at a purchase ----------------------------------------------------------------


def higher_tiers(member: Member) -> tuple[list[Tier], bool]:
    """The tiers above the member's (from the process's cache, loyalty.core.selectors.tiers_by_rank)
    and whether they are in a grace period: with neither, a purchase cannot change their tier."""
    current_rank = member.tier.rank if member.tier else -1
    higher = [tier for tier in tiers_by_rank() if tier.rank > current_rank]
    in_grace = member.tier_grace_until is not None and member.tier is not None
    return higher, in_grace


def tier_upgrade_if_earned(
    *, member: Member, at: datetime, qualifying: int | None = None
) -> TierChange | None:
    """Upgrades happen at once; downgrades only in the monthly review, with grace.

    A member already in the top tier and not in a grace period has nothing to gain: no query at
    all. `qualifying`: the member's qualifying points at `at` when the caller has them.
    """
    higher, in_grace = higher_tiers(member)
    if not higher and not in_grace:
        return None
    points = qualifying if qualifying is not None else qualifying_points(member_id=member.pk, at=at)
    reached = [tier for tier in higher if tier.qualifying_points <= points]
    # A copy: the cached tiers are shared by the process's threads.
    best = tier_copy(max(reached, key=lambda tier: tier.rank)) if reached else None
    if best is None:
        if (
            member.tier_grace_until is not None
            and member.tier is not None
            and points >= member.tier.qualifying_points
        ):
            # Earned the tier back during the review's grace period: the grace ends.
            Member.objects.filter(pk=member.pk).update(tier_grace_until=None)
            member.tier_grace_until = None
        return None
    Member.objects.filter(pk=member.pk).update(
        tier=best, tier_since=timezone.localdate(at), tier_grace_until=None
    )
    member.tier_grace_until = None
    change = TierChange.objects.create(
        member_id=member.pk,
        from_tier=member.tier,
        to_tier=best,
        qualifying_points=points,
        reason="upgrade",
        created_at=at,
    )
    member.tier = best
    return change


def tier_copy(tier: Tier) -> Tier:
    fields = Tier._meta.concrete_fields
    return Tier.from_db(
        tier._state.db,
        [field.attname for field in fields],
        [getattr(tier, field.attname) for field in fields],
    )


# --- the monthly review -----------------------------------------------------------------------


def tier_review_plan(day: date, size: int) -> Iterator[list[int]]:
    """Members above the entry tier, and members in grace: the only ones a review can change."""
    lowest = Tier.objects.order_by("rank").values_list("pk", flat=True).first()
    members = Member.objects.exclude(status=Member.Status.CLOSED).filter(
        Q(tier_grace_until__isnull=False) | (Q(tier__isnull=False) & ~Q(tier_id=lowest))
    )
    return keyset(members, size)


@dataclass(frozen=True)
class _Review:
    action: str | None  # start, clear, downgrade, or None
    below: bool  # under the tier's qualifying points


def _review(*, tier, lower, status, grace_until, points, day) -> _Review:
    """What the review does with one member (pure; the batch applies it set-based)."""
    if tier is None:
        return _Review(None, False)
    if points >= tier.qualifying_points or lower is None:
        # Kept (or nothing lower to move to): a running grace is over.
        return _Review("clear" if grace_until is not None else None, False)
    if status == Member.Status.PAUSED:
        # Never downgraded while paused, not even told. A running grace does not run out
        # meanwhile: the pause moved its end on by the pause's length (loyalty.core.pauses).
        return _Review(None, True)
    if grace_until is None:
        return _Review("start", True)
    if grace_until <= day:
        return _Review("downgrade", True)
    return _Review(None, True)


def tier_review_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Review a batch of members' tiers for `day`.

    Below their tier's qualifying points (counted up to the end of `day`), a member first gets a
    grace period (LOYALTY_TIER_GRACE_DAYS) and a notice of what would keep the tier; a review on
    or after the end of the grace moves them down one tier only (a TierChange "review: grace
    ended", the tier.changed webhook, a message), and if they are below the new tier too its own
    grace starts at once. Earning the tier back ends the grace (here, or at the purchase). Paused
    members are never downgraded; a pause moves their grace's end on by its length.
    """
    counts = Counts()
    grace = timedelta(days=settings.LOYALTY_TIER_GRACE_DAYS)
    grace_end = day + grace
    at = day_end(day)
    tiers = list(Tier.objects.order_by("rank"))
    by_id = {tier.pk: tier for tier in tiers}
    lower = {tier.pk: (tiers[i - 1] if i else None) for i, tier in enumerate(tiers)}

    def decide(tier_id, status, grace_until, points) -> _Review:
        tier = by_id.get(tier_id)
        return _review(
            tier=tier,
            lower=lower.get(tier_id),
            status=status,
            grace_until=grace_until,
            points=points,
            day=day,
        )

    # Read first; lock and write only the members whose tier or grace changes.
    rows = list(
        Member.objects.filter(pk__in=ids)
        .exclude(status=Member.Status.CLOSED)
        .values_list("pk", "tier_id", "status", "tier_grace_until")
    )
    points = qualifying_points_many(member_ids=ids, at=at)
    counts.considered = len(rows)
    changing = [
        pk
        for pk, tier_id, status, grace_until in rows
        if decide(tier_id, status, grace_until, points.get(pk, 0)).action is not None
    ]
    paused_below = {
        pk
        for pk, tier_id, status, grace_until in rows
        if status == Member.Status.PAUSED
        and decide(tier_id, status, grace_until, points.get(pk, 0)).below
    }
    counts.skipped = len(paused_below)
    if not changing:
        return counts
    members = members_locked(
        Member.objects.filter(pk__in=changing).exclude(status=Member.Status.CLOSED),
        related=("user",),
    )
    points = qualifying_points_many(member_ids=[m.pk for m in members], at=at)
    started, cleared = [], []
    downgrades: list[tuple[Member, Tier, Tier, int]] = []
    for member in members:
        qualifying = points.get(member.pk, 0)
        review = decide(member.tier_id, member.status, member.tier_grace_until, qualifying)
        if review.action == "start":
            started.append((member, by_id[member.tier_id], qualifying))
        elif review.action == "clear":
            cleared.append(member.pk)
        elif review.action == "downgrade":
            downgrades.append((member, by_id[member.tier_id], lower[member.tier_id], qualifying))
    if started:
        Member.objects.filter(pk__in=[m.pk for m, _t, _q in started]).update(
            tier_grace_until=grace_end
        )
    if cleared:
        Member.objects.filter(pk__in=cleared).update(tier_grace_until=None)
    changes = []
    moves: dict[tuple[int, date | None], list[int]] = {}
    now = timezone.now()
    for member, old, new, qualifying in downgrades:
        still_below = qualifying < new.qualifying_points and lower[new.pk] is not None
        new_grace = grace_end if still_below else None
        moves.setdefault((new.pk, new_grace), []).append(member.pk)
        changes.append(
            TierChange(
                member_id=member.pk,
                from_tier=old,
                to_tier=new,
                qualifying_points=qualifying,
                reason="review: grace ended",
                created_at=now,
            )
        )
    for (tier_id, new_grace), member_ids in moves.items():
        Member.objects.filter(pk__in=member_ids).update(
            tier_id=tier_id, tier_since=day, tier_grace_until=new_grace
        )
    TierChange.objects.bulk_create(changes)
    _tier_messages(started=started, downgrades=downgrades, lower=lower, grace_end=grace_end)
    counts.paid = len(started) + len(cleared) + len(downgrades)
    counts.details.update(
        grace_started=len(started),
        grace_cleared=len(cleared),
        paused_below=len(paused_below),
        downgraded=len(downgrades),
    )
    return counts


def _tier_messages(*, started, downgrades, lower, grace_end) -> None:
    for member, tier, qualifying in started:
        message_send(
            member,
            "tier_grace",
            {
                "tier": PerLanguage.of(tier.name_in),
                "lower_tier": PerLanguage.of(lower[tier.pk].name_in),
                "qualifying": qualifying,
                "threshold": tier.qualifying_points,
                "points_needed": tier.qualifying_points - qualifying,
                "until": grace_end,
            },
            dedupe_key=f"tier_grace:{tier.code}:{grace_end.isoformat()}",
        )
    wanted = downgrades and event_wanted("tier.changed")
    for member, old, new, qualifying in downgrades:
        still_below = qualifying < new.qualifying_points and lower[new.pk] is not None
        message_send(
            member,
            "tier_changed",
            {
                "old_tier": PerLanguage.of(old.name_in),
                "new_tier": PerLanguage.of(new.name_in),
                "qualifying": qualifying,
                "old_threshold": old.qualifying_points,
                "points_needed": old.qualifying_points - qualifying,
                "new_grace_until": grace_end if still_below else None,
                "new_points_needed": new.qualifying_points - qualifying if still_below else 0,
            },
            dedupe_key=f"tier_changed:{old.code}:{new.code}:{grace_end.isoformat()}",
        )
        if wanted:
            event_emit(
                event_type="tier.changed",
                member_id=member.pk,
                payload={
                    "member_number": member.member_number,
                    "from": old.code,
                    "to": new.code,
                    "reason": "review: grace ended",
                },
            )


# --- upgrades after an import -------------------------------------------------------------------


def tiers_upgrade_many(*, member_ids, at: datetime | None = None) -> list[TierChange]:
    """tier_upgrade_if_earned for many members at once (an import of purchases, which records
    no upgrade purchase by purchase): each member whose qualifying points at `at` reach a
    higher tier moves up to the highest reached, and one in a grace period who earned their
    tier back keeps it. Set-based: a query for the points, one UPDATE per tier reached, the
    changes in bulk; the members' rows are locked in id order. tier.changed goes out as after
    a purchase."""
    at = at or timezone.now()
    tiers = list(tiers_by_rank())
    if not tiers:
        return []
    changes: list[TierChange] = []
    ids = sorted(set(member_ids))
    for start in range(0, len(ids), 5000):
        batch = ids[start : start + 5000]
        points = qualifying_points_many(member_ids=batch, at=at)
        members = members_locked(Member.objects.filter(pk__in=batch).exclude(status="closed"))
        moves: dict[int, list[Member]] = {}
        kept = []
        by_id = {tier.pk: tier for tier in tiers}
        for member in members:
            current = by_id.get(member.tier_id)
            rank = current.rank if current else -1
            qualifying = points.get(member.pk, 0)
            reached = [t for t in tiers if t.rank > rank and t.qualifying_points <= qualifying]
            if reached:
                moves.setdefault(reached[-1].pk, []).append(member)
            elif member.tier_grace_until and current and qualifying >= current.qualifying_points:
                kept.append(member.pk)
        if kept:
            Member.objects.filter(pk__in=kept).update(tier_grace_until=None)
        for tier_id, moved in moves.items():
            Member.objects.filter(pk__in=[m.pk for m in moved]).update(
                tier_id=tier_id, tier_since=timezone.localdate(at), tier_grace_until=None
            )
            changes += [
                TierChange(
                    member_id=member.pk,
                    from_tier_id=member.tier_id,
                    to_tier_id=tier_id,
                    qualifying_points=points.get(member.pk, 0),
                    reason="upgrade",
                    created_at=at,
                )
                for member in moved
            ]
    TierChange.objects.bulk_create(changes)
    if changes and event_wanted("tier.changed"):
        codes = {tier.pk: tier.code for tier in tiers}
        numbers = dict(
            Member.objects.filter(pk__in=[c.member_id for c in changes]).values_list(
                "pk", "member_number"
            )
        )
        for change in changes:
            event_emit(
                event_type="tier.changed",
                member_id=change.member_id,
                payload={
                    "member_number": numbers[change.member_id],
                    "from": codes.get(change.from_tier_id),
                    "to": codes[change.to_tier_id],
                    "reason": change.reason,
                },
            )
    return changes
