"""The frame the server-side SVG charts share (the member's balance, the survey scores): their
size, margins and axis ticks, as plain integers, so a template never formats a coordinate (a
decimal comma would break the SVG)."""

from dataclasses import dataclass

WIDTH, HEIGHT = 400, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


class ChartFrame:
    """What every chart's template reads of its frame (a chart dataclass has `width` and
    `height` fields)."""

    width: int
    height: int

    @property
    def view_box(self) -> str:
        return f"0 0 {self.width} {self.height}"

    @property
    def label_y(self) -> int:
        return self.height - 8


@dataclass(frozen=True)
class ChartTick:
    value: int
    y: int
