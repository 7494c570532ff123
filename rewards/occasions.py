"""Occasion gifts: the anniversary thank-you and the birthday greeting, once per member and year.

Days are the program's (TIME_ZONE). A member who joined, or was born, on 29 February has the
occasion on 28 February in other years. Missed days are never lost: a run covers every day since
the job's last completed run (at least the last LOYALTY_JOB_CATCHUP_DAYS, 7; at most a year, and
beyond that staff are alerted: loyalty.core.catchup); that window is shorter than a year, so it
never holds two of a member's occasions: nobody is paid two years at once.

A batch (see loyalty/core/jobs.py) pays set-based, in its one transaction: it reads its
candidates and the grants they already have, locks only the members still to pay (id order),
checks again under the lock, inserts the OccasionGrant rows (unique per member, occasion and
year: the database's "once"), credits the points of all of them at once
(loyalty.core.ledger.points_credit_many, kind `gift`, cause: the grant), and sends each member a
card in their language (notifications.message_send, dedupe key per year). A voucher gift
(birthday) goes through the catalogue's own services, per member.
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta
from decimal import Decimal
from functools import partial, reduce
from operator import or_

from django.conf import settings
from django.db.models import Q

from accounts.models import Member
from accounts.services import members_locked
from loyalty.base.errors import LoyaltyError
from loyalty.core.catchup import covered_days
from loyalty.core.jobs import Counts, keyset
from loyalty.core.ledger import Credit, points_credit_many
from loyalty.core.models import JobRun, LedgerEntry
from notifications.params import PerLanguage
from notifications.services import message_send

from .models import BirthdayGiftSettings, OccasionGrant, Redemption, Reward
from .services import reward_gift

ANNIVERSARY = OccasionGrant.Occasion.ANNIVERSARY
BIRTHDAY = OccasionGrant.Occasion.BIRTHDAY
Gift = OccasionGrant.Gift
# The jobs' names (rewards/apps.py registers them; their runs are the catch-up's record).
ANNIVERSARY_JOB = "anniversary"
BIRTHDAY_JOB = "birthdays"


# --- days ---------------------------------------------------------------------------------------


def occasion_on(month: int, day: int, year: int) -> date | None:
    """The day of a yearly occasion in `year`: 29 February is 28 February in other years."""
    if month == 2 and day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    try:
        return date(year, month, day)
    except ValueError:
        return None


def window(day: date, job: str, run: JobRun | None = None) -> list[date]:
    """The days a run of `job` for `day` covers, newest first: that day and the days before it
    back to the job's last completed run (loyalty.core.catchup; the run's record when given)."""
    return covered_days(name=job, day=day, run=run)


def _month_day_q(month_field: str, day_field: str, days: list[date]) -> Q:
    """Rows whose (month, day) falls on one of `days` (29 February on 28 February in other
    years). A coarse filter for the plan; the batch decides exactly."""
    pairs = {(d.month, d.day) for d in days}
    pairs |= {(2, 29) for d in days if (d.month, d.day) == (2, 28) and not calendar.isleap(d.year)}
    if len(pairs) >= 366:  # a year's catch-up: every day of the year
        return Q()
    return reduce(or_, (Q(**{month_field: m, day_field: d}) for m, d in sorted(pairs)))


def anniversary_of(joined_on: date, days: list[date]) -> date | None:
    """The member's anniversary among `days`, at least a year after they joined."""
    for day in days:
        if (
            day.year > joined_on.year
            and occasion_on(joined_on.month, joined_on.day, day.year) == day
        ):
            return day
    return None


def birthday_of(month, day_of_month, set_on: date | None, days: list[date]) -> date | None:
    """The member's birthday among `days`, if the birthday was set long enough before it."""
    if not month or not day_of_month or set_on is None:
        return None
    for day in days:
        if occasion_on(month, day_of_month, day.year) == day:
            if (day - set_on).days > settings.LOYALTY_BIRTHDAY_MIN_DAYS_SET:
                return day
            return None
    return None


def anniversary_bonus(tier, years: int) -> int:
    """The thank-you of a tier: its base plus an amount per year of membership."""
    if tier is None:
        return 0
    return tier.anniversary_bonus_base + tier.anniversary_bonus_per_year * years


# --- shared by both occasions ---------------------------------------------------------------------


def _unpaid(occasion: str, due: dict[int, date]) -> dict[int, date]:
    """The members of `due` with no grant yet for the year of their occasion (one query)."""
    if not due:
        return {}
    paid = set(
        OccasionGrant.objects.filter(
            occasion=occasion,
            member_id__in=list(due),
            period__in={str(day.year) for day in due.values()},
        ).values_list("member_id", "period")
    )
    return {pk: day for pk, day in due.items() if (pk, str(day.year)) not in paid}


def _lock_unpaid(occasion: str, due: dict[int, date]) -> list[Member]:
    """Lock the members still to pay (id order) and check again under the lock: a second run
    waits here for the first one's commit and then finds them paid."""
    todo = _unpaid(occasion, due)
    if not todo:
        return []
    members = members_locked(
        Member.objects.filter(pk__in=list(todo)).exclude(status=Member.Status.CLOSED),
        related=("user", "tier"),
    )
    still = _unpaid(occasion, {m.pk: due[m.pk] for m in members})
    return [m for m in members if m.pk in still]


def _credit_grants(grants: list[OccasionGrant]) -> None:
    """The grants' points (the ledger words them from the grant: loyalty.core.wording)."""
    credits = [
        Credit(member_id=grant.member_id, points=grant.points, cause=grant)
        for grant in grants
        if grant.points
    ]
    points_credit_many(credits=credits, kind=LedgerEntry.Kind.GIFT)


# --- anniversary --------------------------------------------------------------------------------


def anniversary_plan(day: date, size: int):
    days = window(day, ANNIVERSARY_JOB)
    members = (
        Member.objects.exclude(status=Member.Status.CLOSED)
        .filter(joined_on__lt=day)
        .filter(_month_day_q("joined_on__month", "joined_on__day", days))
    )
    return keyset(members, size)


def anniversary_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Thank the batch's members whose membership anniversary is `day` (or a missed day of the
    catch-up window): their tier's bonus (base + per year) and a card naming the years.

    Every member who is not closed is thanked: a paused member too (a pause is care in a hard
    time, not a penalty). A tier without a bonus still sends the card.
    """
    days = window(day, ANNIVERSARY_JOB, run)
    due = {}
    for pk, joined_on in (
        Member.objects.filter(pk__in=ids)
        .exclude(status=Member.Status.CLOSED)
        .values_list("pk", "joined_on")
    ):
        anniversary = anniversary_of(joined_on, days)
        if anniversary is not None:
            due[pk] = anniversary
    counts = Counts(considered=len(due))
    members = _lock_unpaid(ANNIVERSARY, due)
    grants = []
    for member in members:
        anniversary = due[member.pk]
        years = anniversary.year - member.joined_on.year
        points = anniversary_bonus(member.tier, years)
        grants.append(
            OccasionGrant(
                member=member,
                occasion=ANNIVERSARY,
                period=str(anniversary.year),
                occasion_date=anniversary,
                years=years,
                gift=Gift.POINTS if points else Gift.CARD,
                points=points,
                job_run=run,
            )
        )
    OccasionGrant.objects.bulk_create(grants)
    _credit_grants(grants)
    for member, grant in zip(members, grants, strict=True):
        message_send(
            member,
            "anniversary",
            {
                "years": grant.years,
                "points": grant.points,
                "tier": PerLanguage.of(member.tier.name_in) if member.tier_id else "",
                "anniversary": grant.occasion_date,
            },
            dedupe_key=f"anniversary:{grant.period}",
        )
    counts.paid = len(grants)
    counts.skipped = counts.considered - counts.paid
    counts.details.update(
        anniversary_points=sum(g.points for g in grants), anniversary_cards=len(grants)
    )
    return counts


# --- birthdays ----------------------------------------------------------------------------------


def birthday_plan(day: date, size: int):
    days = window(day, BIRTHDAY_JOB)
    # Set more than MIN_DAYS_SET days before a birthday that is at the latest `day`.
    set_before = day - timedelta(days=settings.LOYALTY_BIRTHDAY_MIN_DAYS_SET)
    members = (
        Member.objects.exclude(status=Member.Status.CLOSED)
        .filter(birthday_set_on__lt=set_before)
        .filter(_month_day_q("birthday_month", "birthday_day", days))
    )
    return keyset(members, size)


def _donation(gifts: BirthdayGiftSettings) -> tuple[Decimal, str] | None:
    cause = (gifts.donation_cause or "").strip()
    amount = gifts.donation_amount or Decimal(0)
    if not cause or amount <= 0:
        return None
    return amount, cause[:200]


def _gift_rewards(gifts: BirthdayGiftSettings) -> tuple[Reward | None, list[Reward]]:
    """The discount reward and the surprise rewards of the settings (active ones only)."""
    discount = gifts.discount_reward
    if discount is not None and not discount.is_active:
        discount = None
    if gifts._state.adding:  # no row (a flushed test database): no surprises
        return discount, []
    return discount, list(gifts.surprise_rewards.filter(is_active=True).order_by("slug"))


def _planned_gift(member: Member, year: int, discount, surprises, donation, points: int):
    """What delights the member, if it can be given: (gift, reward)."""
    if member.delight == Member.Delight.DISCOUNT and discount is not None:
        return Gift.VOUCHER, discount
    if member.delight == Member.Delight.SURPRISE and surprises:
        return Gift.SURPRISE, surprises[(member.pk + year) % len(surprises)]
    if member.delight == Member.Delight.DONATION and donation is not None:
        return Gift.DONATION, None
    return (Gift.POINTS if points > 0 else Gift.CARD), None


def _give_voucher(member: Member, grant: OccasionGrant, reward: Reward) -> Redemption | None:
    """A voucher as a gift, through the catalogue's own services: the gift credits the points
    the reward costs the member, and redeeming spends them, so the voucher's expiry and a
    cancellation follow the reward's rules. None (nothing written) if it cannot be redeemed."""
    try:
        entry, redemption = reward_gift(
            member=member,
            reward=reward,
            cause=grant,
        )
    except LoyaltyError:
        return None
    grant.points = entry.points
    grant.redemption = redemption
    return redemption


def birthday_batch(*, ids: list[int], day: date, run: JobRun | None = None) -> Counts:
    """Greet the batch's members whose birthday is `day` (or a missed day of the catch-up
    window), with the gift that delights them (Member.delight): bonus points for a greeting, a
    discount voucher, a surprise reward, or a donation in their name. Only for a birthday set
    more than LOYALTY_BIRTHDAY_MIN_DAYS_SET (30) days before it, once a year. A gift that cannot
    be given falls back to the points.
    """
    days = window(day, BIRTHDAY_JOB, run)
    due = {}
    for pk, month, day_of_month, set_on in (
        Member.objects.filter(pk__in=ids)
        .exclude(status=Member.Status.CLOSED)
        .values_list("pk", "birthday_month", "birthday_day", "birthday_set_on")
    ):
        birthday = birthday_of(month, day_of_month, set_on, days)
        if birthday is not None:
            due[pk] = birthday
    counts = Counts(considered=len(due))
    members = _lock_unpaid(BIRTHDAY, due)
    if not members:
        counts.skipped = counts.considered
        return counts
    gifts = BirthdayGiftSettings.current()  # what staff set in the admin
    points = gifts.points
    discount, surprises = _gift_rewards(gifts)
    donation = _donation(gifts)
    grants, rewards = [], []
    for member in members:
        birthday = due[member.pk]
        gift, reward = _planned_gift(member, birthday.year, discount, surprises, donation, points)
        grants.append(
            OccasionGrant(
                member=member,
                occasion=BIRTHDAY,
                period=str(birthday.year),
                occasion_date=birthday,
                gift=gift,
                points=points if gift == Gift.POINTS else 0,
                donation_amount=donation[0] if gift == Gift.DONATION else None,
                donation_currency=settings.LOYALTY_CURRENCY if gift == Gift.DONATION else "",
                donation_cause=donation[1] if gift == Gift.DONATION else "",
                job_run=run,
            )
        )
        rewards.append(reward)
    OccasionGrant.objects.bulk_create(grants)
    for member, grant, reward in zip(members, grants, rewards, strict=True):
        if reward is None:
            continue
        if _give_voucher(member, grant, reward) is None:
            grant.gift = Gift.POINTS if points > 0 else Gift.CARD
            grant.points = points
            grant.save(update_fields=["gift", "points"])
            counts.details.update(birthday_gift_fell_back=1)
        else:
            grant.save(update_fields=["points", "redemption"])
    _credit_grants([g for g in grants if g.gift == Gift.POINTS])
    for member, grant in zip(members, grants, strict=True):
        message_send(
            member, "birthday", _greeting(member, grant, day), dedupe_key=f"birthday:{grant.period}"
        )
        counts.details.update({f"birthday_{grant.gift}": 1})
    counts.paid = len(grants)
    counts.skipped = counts.considered - counts.paid
    return counts


def _greeting(member: Member, grant: OccasionGrant, day: date) -> dict:
    context = {
        "gift": grant.gift,
        "points": grant.points,
        "belated": grant.occasion_date < day,
        "birthday": grant.occasion_date,
    }
    if grant.redemption_id:
        redemption = grant.redemption
        voucher = redemption.voucher
        context.update(
            reward=PerLanguage.of(partial(redemption.reward.localized, "name")),
            voucher_code=voucher.display_code,
            voucher_valid_until=voucher.expires_on,
        )
    if grant.gift == Gift.DONATION:
        context.update(
            donation_amount=grant.donation_amount,
            donation_currency=grant.donation_currency,
            donation_cause=grant.donation_cause,
        )
    return context
