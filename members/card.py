"""The member card: the member number as a Code 128 barcode and a QR code, drawn as inline SVG.

python-barcode encodes the number (Code 128, what most till scanners read); the bars are drawn
here as whole-unit rectangles in a viewBox, so the card scales to any screen without blurring
and needs no image file, no Pillow and no JavaScript. The QR code (segno) is for tills with a
camera. Both carry the bare member number, as typed at a till.
"""

from __future__ import annotations

import segno
from barcode import Code128
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

QUIET_ZONE = 10  # modules of white on each side, as Code 128 asks for
BAR_HEIGHT = 50  # in modules: a wide, short card a scanner sweeps easily


class _Code128(Code128):
    """python-barcode 0.16's Code128 takes a leading "99" of digits (code value 99 in set C)
    for a redundant switch to set C and drops it: "999999998" would scan as "9999998". Leaving
    that shortening out costs at most one symbol and is always correct, so it is left out for
    codes that begin with a digit, as member numbers do (tests/members/test_member_card.py)."""

    def _try_to_optimize(self, encoded: list[int]) -> list[int]:
        if self.code[:1].isdigit():
            return encoded
        return super()._try_to_optimize(encoded)


def barcode_modules(number: str) -> str:
    """The barcode as "1" (bar) and "0" (space) modules, from left to right."""
    return "".join(_Code128(number).build())


def barcode_bars(number: str) -> list[tuple[int, int]]:
    """Each bar as (x, width) in modules, the quiet zone included."""
    bars: list[tuple[int, int]] = []
    modules = barcode_modules(number)
    start = None
    for i, module in enumerate(modules + "0"):
        if module == "1" and start is None:
            start = i
        elif module == "0" and start is not None:
            bars.append((QUIET_ZONE + start, i - start))
            start = None
    return bars


def barcode_svg(number: str) -> SafeString:
    width = len(barcode_modules(number)) + 2 * QUIET_ZONE
    rects = format_html_join(
        "",
        '<rect x="{}" y="0" width="{}" height="{}"/>',
        ((x, w, BAR_HEIGHT) for x, w in barcode_bars(number)),
    )
    # The number is written out beside it; the picture adds nothing for a screen reader.
    return format_html(
        '<svg class="barcode" viewBox="0 0 {} {}" preserveAspectRatio="none" '
        'shape-rendering="crispEdges" aria-hidden="true" focusable="false" '
        'xmlns="http://www.w3.org/2000/svg"><rect width="100%" height="100%" fill="#fff"/>'
        '<g fill="#000">{}</g></svg>',
        width,
        BAR_HEIGHT,
        rects,
    )


def member_qr(number: str) -> segno.QRCode:
    return segno.make_qr(number, error="m")


def qr_svg(number: str) -> SafeString:
    svg = member_qr(number).svg_inline(
        scale=1, border=4, omitsize=True, light="#fff", svgclass="qr-code"
    )
    svg = svg.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)
    return SafeString(svg)  # segno's SVG of the member's own number
