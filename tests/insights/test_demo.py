"""seed_crowd: members on every rung, a finished campaign with a holdout, and a second run that
changes nothing."""

import pytest
from django.core.management import CommandError, call_command

from insights.models import Campaign, MemberInsight, Rung, RungChange, Snapshot
from loyalty.demo import seed_demo

pytestmark = pytest.mark.django_db


def test_the_crowd_puts_members_on_every_rung_and_is_seeded_once(capsys):
    with pytest.raises(CommandError, match="seed_demo first"):
        call_command("seed_crowd")
    seed_demo()
    call_command("seed_crowd")
    assert "crowd members" in capsys.readouterr().out
    rungs = set(MemberInsight.objects.values_list("rung", flat=True))
    assert rungs == set(Rung.values)
    campaign = Campaign.objects.get()
    assert campaign.status == Campaign.Status.SENT
    assert campaign.members.filter(holdout=True).exists()
    assert campaign.members.filter(holdout=False, sent_at__isnull=False).exists()
    results = Snapshot.objects.get().figures["campaigns"][0]
    assert results["complete"] and results["came_back"] is not None
    # the ladder has moves in most months of the year
    months = {
        d.strftime("%Y-%m") for d in RungChange.objects.exclude(from_rung="").dates("day", "month")
    }
    assert len(months) >= 6
    counts = (MemberInsight.objects.count(), RungChange.objects.count())
    call_command("seed_crowd")
    assert "already" in capsys.readouterr().out
    assert (MemberInsight.objects.count(), RungChange.objects.count()) == counts
