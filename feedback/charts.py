"""The survey scores over time, drawn server-side as small inline SVG line charts.

As with the member balance chart (members/charts.py), the geometry is computed here as plain
integers and strings, so the template never formats a coordinate (a decimal comma would break
the SVG). Each score has a fixed scale (1-5, -100 to 100), so charts of different periods
compare at a glance. A month without responses leaves a gap in the line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from loyalty.base.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, ChartFrame, ChartTick


@dataclass(frozen=True)
class ScorePoint:
    month: date
    value: Decimal | None  # None: no responses that month
    x: int
    y: int | None


@dataclass(frozen=True)
class ScoreChart(ChartFrame):
    points: list[ScorePoint]
    ticks: list[ChartTick]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT

    @property
    def lines(self) -> list[str]:
        """The polylines of consecutive months with responses (a gap splits the line)."""
        lines, current = [], []
        for point in self.points:
            if point.y is None:
                if current:
                    lines.append(current)
                current = []
            else:
                current.append(f"{point.x},{point.y}")
        if current:
            lines.append(current)
        return [" ".join(line) for line in lines]

    @property
    def dots(self) -> list[ScorePoint]:
        return [point for point in self.points if point.y is not None]

    @property
    def has_data(self) -> bool:
        return any(point.y is not None for point in self.points)


def score_chart(
    values: list[tuple[date, Decimal | None]], *, low: int, high: int, ticks: tuple[int, ...]
) -> ScoreChart:
    """A line chart of monthly values on the fixed scale low..high."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    step = plot_w / max(len(values) - 1, 1)

    def y_of(value) -> int:
        value = min(max(Decimal(value), low), high)
        return round(TOP + plot_h * (1 - float((value - low) / (high - low))))

    points = [
        ScorePoint(
            month=month,
            value=value,
            x=round(LEFT + i * step),
            y=None if value is None else y_of(value),
        )
        for i, (month, value) in enumerate(values)
    ]
    return ScoreChart(points=points, ticks=[ChartTick(value=v, y=y_of(v)) for v in ticks])


def survey_charts(scores) -> dict[str, ScoreChart]:
    """The two charts of the figures page from selectors.survey_scores()."""
    return {
        "would_tell": score_chart(
            [(s.month, s.would_tell_average) for s in scores], low=1, high=5, ticks=(1, 3, 5)
        ),
        "nps": score_chart(
            [(s.month, s.nps) for s in scores], low=-100, high=100, ticks=(-100, 0, 100)
        ),
    }
