"""The frame the server-side SVG charts share (the member's balance, the survey scores): their
size, margins and axis ticks, as plain integers, so a template never formats a coordinate (a
decimal comma would break the SVG)."""

from dataclasses import dataclass

WIDTH, HEIGHT = 400, 200
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 28


@dataclass(frozen=True)
class ChartTick:
    value: int
    y: int
