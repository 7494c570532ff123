"""What insights does when a member's personal data is erased (loyalty.core.hooks.MemberHook,
registered in apps.py): staff's outreach notes about the member go (what was said to a person
is about that person); the ladder, signals and campaign rows keep only numbers and codes."""

from __future__ import annotations

from accounts.models import Member
from loyalty.base.personal import ERASED, Personal

from .models import Outreach


def insights_erase(*, member: Member, personal: Personal) -> None:
    Outreach.objects.filter(member=member).update(note=ERASED)
