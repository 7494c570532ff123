"""The member card: the barcode and QR code a till scans decode back to the member number."""

import io
import re

import pytest
from django.urls import reverse
from PIL import Image, ImageDraw

from members import card

zxingcpp = pytest.importorskip("zxingcpp")

CARD = reverse("members:card")


def _rasterize(svg: str, scale: int = 3) -> Image.Image:
    """Our own SVG drawn pixel for pixel: its viewBox and its bar rectangles, nothing else."""
    width, height = (int(v) for v in re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, w, h in re.findall(r'<rect x="(\d+)" y="0" width="(\d+)" height="(\d+)"/>', svg):
        left = int(x) * scale
        draw.rectangle([left, 0, left + int(w) * scale - 1, int(h) * scale - 1], fill=0)
    return image


def _decode(image: Image.Image, kind) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(image) if r.format == kind]


@pytest.mark.parametrize(
    "number", ["123456782", "100000009", "999999998", "990000007", "199999998"]
)
def test_the_barcode_decodes_back_to_the_member_number(number):
    # when
    svg = str(card.barcode_svg(number))

    # then
    assert _decode(_rasterize(svg), zxingcpp.BarcodeFormat.Code128) == [number]


def test_the_qr_code_decodes_back_to_the_member_number():
    # given
    buffer = io.BytesIO()
    card.member_qr("123456782").save(buffer, kind="png", scale=6, border=4)

    # when
    image = Image.open(io.BytesIO(buffer.getvalue()))

    # then
    assert _decode(image, zxingcpp.BarcodeFormat.QRCode) == ["123456782"]


def test_the_card_page_shows_the_number_large_with_barcode_and_qr(member_client, web_member):
    # when
    response = member_client.get(CARD)

    # then
    assert response.status_code == 200
    html = response.content.decode()
    number = web_member.member_number
    assert "Show this at the till." in html
    assert f"</span>{number}</p>" in html
    assert str(card.barcode_svg(number)) in html
    assert str(card.qr_svg(number)) in html
    assert "<script" not in html  # works offline once loaded: nothing to fetch or run
    served = re.search(r'<svg class="barcode".*?</svg>', html).group(0)
    assert _decode(_rasterize(served), zxingcpp.BarcodeFormat.Code128) == [number]


def test_the_dashboard_carries_the_card_and_links_to_the_till_page(member_client, web_member):
    # when
    html = member_client.get(reverse("members:dashboard")).content.decode()

    # then
    assert str(card.barcode_svg(web_member.member_number)) in html
    assert '<p class="member-number">' in html
    assert f'href="{CARD}"' in html


def test_the_card_page_needs_a_login(client):
    # when
    response = client.get(CARD)

    # then
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("members:login"))
