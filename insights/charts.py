"""Bar charts for the staff dashboard, drawn server-side as inline SVG (no script, no CDN).

As with the other charts (loyalty.base.charts), the geometry is plain integers here, so a
template never formats a coordinate (a decimal comma would break the SVG). Each chart has its
numbers in the table under it, so the bars need no labels of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from loyalty.base.charts import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, ChartFrame, ChartTick


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    width: int
    height: int
    series: int  # which series: the CSS class chart-series-N colours it
    title: str  # the tooltip: label, series and value


@dataclass(frozen=True)
class Label:
    x: int
    text: str


@dataclass(frozen=True)
class BarChart(ChartFrame):
    bars: list[Bar]
    labels: list[Label]
    ticks: list[ChartTick]
    legend: list[tuple[int, str]]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right_edge: int = WIDTH - RIGHT

    @property
    def has_data(self) -> bool:
        return any(bar.height for bar in self.bars)


def _nice_top(value: float) -> int:
    """The smallest 1, 2 or 5 × 10^k at least `value` (the top of the scale)."""
    if value <= 0:
        return 1
    scale = 1
    while True:
        for step in (1, 2, 5):
            if step * scale >= value:
                return step * scale
        scale *= 10


def bar_chart(
    labels: list[str], series: list[tuple[str, list[float]]], *, every: int = 1
) -> BarChart:
    """Grouped bars: one group per label, one bar per series (name, values). `every`: label
    only every n-th group, so twelve months fit."""
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    top = _nice_top(max((max(values, default=0) for _, values in series), default=0))
    group = plot_w / max(len(labels), 1)
    width = max(int(group * 0.8 / max(len(series), 1)), 1)
    bars, texts = [], []
    for i, label in enumerate(labels):
        start = LEFT + i * group + group * 0.1
        for s, (name, values) in enumerate(series):
            value = max(values[i], 0)
            height = round(plot_h * value / top)
            bars.append(
                Bar(
                    x=round(start + s * width),
                    y=TOP + plot_h - height,
                    width=width,
                    height=height,
                    series=s,
                    title=f"{label} · {name}: {values[i]}",
                )
            )
        if (len(labels) - 1 - i) % every == 0:
            texts.append(Label(x=round(LEFT + i * group + group / 2), text=label))
    ticks = [
        ChartTick(value=round(top * k / 2), y=round(TOP + plot_h * (1 - k / 2))) for k in (0, 1, 2)
    ]
    return BarChart(
        bars=bars,
        labels=texts,
        ticks=ticks,
        legend=[(s, name) for s, (name, _) in enumerate(series)],
    )


@dataclass(frozen=True)
class Row:
    y: int
    label: str
    width: int
    value: int


@dataclass(frozen=True)
class HBarChart(ChartFrame):
    """Horizontal bars, one a category (rungs, tiers): room for their names on the left."""

    rows: list[Row]
    label_width: int
    bar_height: int
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def has_data(self) -> bool:
        return any(row.value for row in self.rows)


HBAR_LABEL = 130
HBAR_ROW = 22


def hbar_chart(labels: list[str], values: list[int]) -> HBarChart:
    top = max(values, default=0) or 1
    room = WIDTH - HBAR_LABEL - 60  # the value is written after the bar
    rows = [
        Row(y=8 + i * HBAR_ROW, label=label, width=round(room * value / top), value=value)
        for i, (label, value) in enumerate(zip(labels, values, strict=True))
    ]
    return HBarChart(
        rows=rows,
        label_width=HBAR_LABEL,
        bar_height=HBAR_ROW - 6,
        height=16 + len(rows) * HBAR_ROW,
    )
