"""Helpers for the tests of the rewards admin: images, messages, and the state of a redemption."""

import io
import random

from django.contrib.messages import get_messages
from PIL import Image

from accounts.models import Member
from loyalty.core.models import LedgerEntry
from rewards.models import Redemption, Reward, Voucher


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def png_bytes(size=(48, 32), colour="#6f4e37") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def noisy_png_bytes(size=(1000, 1000)) -> bytes:
    """A real PNG that does not compress: about 3 MB for 1000 × 1000."""
    rng = random.Random(7)
    buffer = io.BytesIO()
    Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3)).save(buffer, format="PNG")
    return buffer.getvalue()


def snapshot(member, reward):
    return (
        Member.objects.get(pk=member.pk).points_balance,
        Reward.objects.get(pk=reward.pk).stock,
        LedgerEntry.objects.count(),
        list(Redemption.objects.order_by("pk").values_list("status", "cancel_reason")),
        list(Voucher.objects.order_by("pk").values_list("status", flat=True)),
    )


def label(redemption) -> str:
    return (
        f"{redemption.member.member_number} {redemption.reward.name_en} "
        f"({redemption.voucher.display_code})"
    )
