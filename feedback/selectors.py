"""Read queries of the feedback book: the monthly figures and the survey scores for the admin.

Months are calendar months in the program's time zone (settings.TIME_ZONE), whatever time zone
a request has activated. Each function runs a fixed number of queries, whatever the number of
months or items: counts and sums are one conditional aggregate per month in a single query,
and the median (which SQLite cannot compute) is taken in Python from one values_list.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.db.models import Count, Q, Sum
from django.utils import timezone

from loyalty.core.models import Purchase

from .models import FeedbackItem, SurveyResponse

HOUR = Decimal(3600)


@dataclass(frozen=True)
class MonthFigures:
    month: date  # the first day of the month
    filed: int  # items filed this month
    complaints: int  # of them, complaints
    answered: int  # items filed this month that have a first answer
    median_hours_to_first_answer: Decimal | None  # of those, one decimal
    deadline_due: int  # items filed this month answered, or whose first deadline has passed
    answered_in_time: int  # of those, first answered by the first-answer deadline
    answered_in_time_percent: Decimal | None  # one decimal
    purchases: int  # purchases recorded this month
    complaints_per_1000_purchases: Decimal | None  # two decimals
    rated: int  # answers rated this month
    average_rating: Decimal | None  # 1-5, two decimals


@dataclass(frozen=True)
class SurveyMonth:
    month: date
    responses: int  # surveys answered this month
    would_tell_average: Decimal | None  # 1-5, two decimals
    recommend_average: Decimal | None  # 0-10, two decimals
    promoters: int  # 9-10
    detractors: int  # 0-6
    nps: Decimal | None  # % promoters - % detractors, -100 to 100, one decimal


def _round(value: Decimal, places: str) -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def _ratio(part: int, whole: int, *, scale: int, places: str) -> Decimal | None:
    if not whole:
        return None
    return _round(Decimal(part) * scale / Decimal(whole), places)


def month_starts(months: int, today: date) -> list[date]:
    """The first days of the last `months` calendar months, oldest first, ending with today's."""
    current = today.replace(day=1)
    return [current - relativedelta(months=k) for k in range(months - 1, -1, -1)]


def _bounds(month_list: list[date]) -> list[tuple[datetime, datetime]]:
    """Each month as [start, end) aware datetimes in the program's time zone."""
    zone = timezone.get_default_timezone()

    def start_of(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=zone)

    return [(start_of(m), start_of(m + relativedelta(months=1))) for m in month_list]


def _today(today: date | None, now: datetime) -> date:
    return today or timezone.localdate(now, timezone.get_default_timezone())


def _month_index(moment: datetime, bounds: list[tuple[datetime, datetime]]) -> int | None:
    for index, (start, end) in enumerate(bounds):
        if start <= moment < end:
            return index
    return None


def _monthly_aggregate(queryset, field: str, bounds, **measures) -> list[dict]:
    """One query: for each month, each measure (an aggregate with a `filter`) over the rows
    whose `field` lies in that month. A measure is a callable taking the month's Q."""
    aggregates = {}
    for index, (start, end) in enumerate(bounds):
        in_month = Q(**{f"{field}__gte": start, f"{field}__lt": end})
        for name, make in measures.items():
            aggregates[f"{name}_{index}"] = make(in_month)
    first, last = bounds[0][0], bounds[-1][1]
    row = queryset.filter(**{f"{field}__gte": first, f"{field}__lt": last}).aggregate(**aggregates)
    return [
        {name: row[f"{name}_{index}"] or 0 for name in measures} for index in range(len(bounds))
    ]


def monthly_figures(
    months: int = 12, today: date | None = None, *, now: datetime | None = None
) -> list[MonthFigures]:
    """The feedback book's figures per calendar month, oldest first (three queries).

    - filed, complaints: items filed that month;
    - median hours to the first answer: of the items filed that month that have one;
    - answered in time: of the items filed that month that were answered or whose first-answer
      deadline has passed (by `now`), the share first answered by that deadline;
    - complaints per 1,000 purchases: complaints filed / purchases recorded that month;
    - average rating: of the answers rated that month.
    """
    now = now or timezone.now()
    month_list = month_starts(months, _today(today, now))
    bounds = _bounds(month_list)

    rows = FeedbackItem.objects.filter(
        created_at__gte=bounds[0][0], created_at__lt=bounds[-1][1]
    ).values_list("created_at", "kind", "first_answered_at", "first_answer_due")
    filed = [0] * months
    complaints = [0] * months
    waits: list[list[timedelta]] = [[] for _ in range(months)]
    due = [0] * months
    in_time = [0] * months
    for created_at, kind, first_answered_at, first_answer_due in rows:
        index = _month_index(created_at, bounds)
        if index is None:  # pragma: no cover - the query keeps to the months
            continue
        filed[index] += 1
        if kind == FeedbackItem.Kind.COMPLAINT:
            complaints[index] += 1
        if first_answered_at is not None:
            waits[index].append(first_answered_at - created_at)
            due[index] += 1
            if first_answered_at <= first_answer_due:
                in_time[index] += 1
        elif first_answer_due < now:
            due[index] += 1

    purchases = _monthly_aggregate(
        Purchase.objects.all(),
        "created_at",
        bounds,
        count=lambda in_month: Count("pk", filter=in_month),
    )
    ratings = _monthly_aggregate(
        FeedbackItem.objects.filter(rating__isnull=False),
        "rated_at",
        bounds,
        count=lambda in_month: Count("pk", filter=in_month),
        total=lambda in_month: Sum("rating", filter=in_month),
    )

    figures = []
    for index, month in enumerate(month_list):
        median = None
        if waits[index]:
            seconds = Decimal(statistics.median(waits[index]).total_seconds())
            median = _round(seconds / HOUR, "0.1")
        figures.append(
            MonthFigures(
                month=month,
                filed=filed[index],
                complaints=complaints[index],
                answered=len(waits[index]),
                median_hours_to_first_answer=median,
                deadline_due=due[index],
                answered_in_time=in_time[index],
                answered_in_time_percent=_ratio(
                    in_time[index], due[index], scale=100, places="0.1"
                ),
                purchases=purchases[index]["count"],
                complaints_per_1000_purchases=_ratio(
                    complaints[index], purchases[index]["count"], scale=1000, places="0.01"
                ),
                rated=ratings[index]["count"],
                average_rating=_ratio(
                    ratings[index]["total"], ratings[index]["count"], scale=1, places="0.01"
                ),
            )
        )
    return figures


def survey_scores(
    months: int = 12, today: date | None = None, *, now: datetime | None = None
) -> list[SurveyMonth]:
    """The two survey scores per calendar month of answering, oldest first (one query).

    NPS is the share of promoters (9-10) less the share of detractors (0-6), in percent.
    """
    now = now or timezone.now()
    month_list = month_starts(months, _today(today, now))
    bounds = _bounds(month_list)
    rows = _monthly_aggregate(
        SurveyResponse.objects.filter(would_tell__isnull=False, recommend__isnull=False),
        "answered_at",
        bounds,
        count=lambda in_month: Count("pk", filter=in_month),
        would_tell=lambda in_month: Sum("would_tell", filter=in_month),
        recommend=lambda in_month: Sum("recommend", filter=in_month),
        promoters=lambda in_month: Count("pk", filter=in_month & Q(recommend__gte=9)),
        detractors=lambda in_month: Count("pk", filter=in_month & Q(recommend__lte=6)),
    )
    scores = []
    for month, row in zip(month_list, rows, strict=True):
        count = row["count"]
        nps = None
        if count:
            nps = _round(
                Decimal(row["promoters"] - row["detractors"]) * 100 / Decimal(count), "0.1"
            )
        scores.append(
            SurveyMonth(
                month=month,
                responses=count,
                would_tell_average=_ratio(row["would_tell"], count, scale=1, places="0.01"),
                recommend_average=_ratio(row["recommend"], count, scale=1, places="0.01"),
                promoters=row["promoters"],
                detractors=row["detractors"],
                nps=nps,
            )
        )
    return scores
