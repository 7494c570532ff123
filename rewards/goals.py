"""The reward a member saves for: choosing and dropping it, one transaction each.

Only a reward on offer now that the member's tier allows can be chosen (an out-of-stock one
can: stock may come back while they save). A goal that later leaves the catalogue is simply
not shown (members.selectors); it is not deleted behind the member's back.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import Member

from .errors import RewardInactive, TierTooLow
from .models import Reward, SavingGoal


@transaction.atomic
def saving_goal_set(*, member: Member, reward: Reward) -> SavingGoal:
    """Save for `reward`, replacing any earlier goal."""
    if not reward.is_available(timezone.now()):
        raise RewardInactive()
    if reward.min_tier_id is not None:
        member_rank = member.tier.rank if member.tier_id else -1
        if member_rank < reward.min_tier.rank:
            raise TierTooLow()
    goal, _ = SavingGoal.objects.update_or_create(
        member=member, defaults={"reward": reward, "created_at": timezone.now()}
    )
    return goal


@transaction.atomic
def saving_goal_clear(*, member: Member) -> bool:
    """Stop saving for anything; whether there was a goal."""
    deleted, _ = SavingGoal.objects.filter(member=member).delete()
    return bool(deleted)
