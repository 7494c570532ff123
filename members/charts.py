"""The balance chart: twelve month-end balances, drawn server-side as inline SVG.

The numbers come from one aggregate query (the points of the member's entries per local
month); the balances are then counted backwards from the current balance, so the chart always
ends at exactly what the member has now. The geometry is computed here, as plain strings, so
the template never has to format a coordinate (a decimal comma would break the SVG).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from django.db.models import Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from loyalty.base.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, ChartFrame, ChartTick
from loyalty.core.models import LedgerEntry

MONTHS = 12


@dataclass(frozen=True)
class ChartPoint:
    month: date  # the first day of the month
    balance: int  # at the end of the month (for the current month: now)
    x: int
    y: int


@dataclass(frozen=True)
class BalanceChart(ChartFrame):
    points: list[ChartPoint]
    ticks: list[ChartTick]
    active_months: int = 0  # months of the last twelve with any entry (the first one aside)
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT
    baseline: int = HEIGHT - BOTTOM

    @property
    def polyline(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)

    @property
    def area(self) -> str:
        first, last = self.points[0], self.points[-1]
        return f"{first.x},{self.baseline} {self.polyline} {last.x},{self.baseline}"

    @property
    def first(self) -> ChartPoint:
        return self.points[0]

    @property
    def last(self) -> ChartPoint:
        return self.points[-1]

    @property
    def highest(self) -> ChartPoint:
        return max(self.points, key=lambda p: (p.balance, p.month))


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _as_date(value) -> date:
    if isinstance(value, datetime):
        return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return value


def _nice_ceiling(value: int) -> int:
    """A round top for the scale: 10, 20, 25, 50, 100, 200, 250, 500, 1000, ..."""
    if value <= 10:
        return 10
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 2.5, 5, 10):
        top = int(step * magnitude)
        if top >= value:
            return top
    return 10 * magnitude  # pragma: no cover


def monthly_points(*, member_id: int, since: date) -> dict[date, int]:
    """The points of the member's entries per local month, from the month of `since` on."""
    start = timezone.make_aware(datetime.combine(since, datetime.min.time()))
    rows = (
        LedgerEntry.objects.filter(member_id=member_id, created_at__gte=start)
        .annotate(month=TruncMonth("created_at", tzinfo=timezone.get_current_timezone()))
        .values("month")
        .annotate(total=Sum("points"))
        .order_by()
    )
    sums: dict[date, int] = {}
    for row in rows:
        month = _month_start(_as_date(row["month"]))
        sums[month] = sums.get(month, 0) + int(row["total"] or 0)
    return sums


def balance_chart(*, member_id: int, balance: int, today: date | None = None) -> BalanceChart:
    """Month-end balances of the last twelve months (the current month ends now)."""
    today = today or timezone.localdate()
    current = _month_start(today)
    months = [current - relativedelta(months=k) for k in range(MONTHS - 1, -1, -1)]
    # The balance at the end of month m is today's balance less what came after m.
    sums = monthly_points(member_id=member_id, since=months[1])
    balances = []
    after = 0
    for month in reversed(months):
        balances.append(balance - after)
        after += sums.get(month, 0)
    balances.reverse()

    top = _nice_ceiling(max(max(balances), 0))
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    step = plot_w / (MONTHS - 1)

    def y_of(value: int) -> int:
        return round(TOP + plot_h * (1 - max(value, 0) / top))

    points = [
        ChartPoint(month=month, balance=value, x=round(LEFT + i * step), y=y_of(value))
        for i, (month, value) in enumerate(zip(months, balances, strict=True))
    ]
    ticks = [ChartTick(value=v, y=y_of(v)) for v in (0, top // 2, top)]
    return BalanceChart(points=points, ticks=ticks, active_months=len(sums))
