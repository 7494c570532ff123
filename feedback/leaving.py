"""What the feedback book does when a member's personal data is erased
(loyalty.core.hooks.MemberHook, registered in apps.py).

What the member wrote goes (an item's text and rating comment); the items stay, with their
kind, dates, deadlines and answers' timing, so the book's figures add up as before. Staff's
answers and published cases keep their words, less any quote of the person. Surveys keep only
scores and dates.
"""

from __future__ import annotations

from accounts.models import Member
from loyalty.base.personal import ERASED, Personal

from .models import FeedbackAnswer, FeedbackItem, PublishedCase


def feedback_erase(*, member: Member, personal: Personal) -> None:
    items = FeedbackItem.objects.filter(member=member)
    items.update(text=ERASED, rating_comment="")
    for model, fields in (
        (FeedbackAnswer, ("what_was_done", "what_changes")),
        (PublishedCase, ("problem", "what_changed")),
    ):
        for row in model.objects.filter(item__member=member):
            changed = {f: personal.scrub(getattr(row, f)) for f in fields}
            if any(changed[f] != getattr(row, f) for f in fields):
                model.objects.filter(pk=row.pk).update(**changed)
