"""Campaign sending through Redis to real workers: two workers and a double beat at once, and a
worker killed half-way, still give each treated member the offer exactly once."""

import signal
import time

import pytest
from django.contrib.auth import get_user_model

from insights import campaigns, services
from insights.models import Campaign, CampaignMember
from insights.tasks import campaigns_task
from loyalty.core.models import LedgerEntry
from notifications.models import Message
from tests.factories import make_member
from tests.worker import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.real_worker,
    pytest.mark.django_db(transaction=True),
]

LANGS = ("en", "lt", "bg", "da", "ru", "pl")


def _campaign(chief) -> Campaign:
    fields = {f"subject_{code}": "Hello" for code in LANGS}
    fields |= {f"card_{code}": "A gift." for code in LANGS}
    return services.campaign_save(
        campaign=Campaign(name="Both", offer=Campaign.Offer.POINTS, points=25, **fields),
        staff=chief,
    )


def _assert_once(campaign) -> None:
    rows = list(CampaignMember.objects.filter(campaign=campaign))
    for row in rows:
        gifts = LedgerEntry.objects.filter(member_id=row.member_id, kind="gift").count()
        cards = Message.objects.filter(member_id=row.member_id, kind="campaign").count()
        assert (gifts, cards) == ((0, 0) if row.holdout else (1, 1)), row


@pytest.fixture
def setup(tiers, settings):
    settings.LOYALTY_JOB_BATCH_SIZE = 4
    chief = get_user_model().objects.create_superuser(email="chief@example.com", password="x")
    members = [make_member(email=f"w{k}@example.com") for k in range(20)]
    return chief, members


def _sent(campaign):
    return lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENT


def test_two_workers_and_a_double_beat_send_each_offer_once(setup, workers, through_the_broker):
    chief, _members = setup
    workers("w1", LOYALTY_JOB_BATCH_SIZE=4, LOYALTY_JOB_BATCH_DELAY=0.05)
    workers("w2", LOYALTY_JOB_BATCH_SIZE=4, LOYALTY_JOB_BATCH_DELAY=0.05)
    campaign = _campaign(chief)
    campaigns.campaign_launch(campaign=campaign, staff=chief)  # its run goes to the workers
    campaigns_task.apply_async(queue=through_the_broker)  # and two beats at once
    campaigns_task.apply_async(queue=through_the_broker)
    wait_until(_sent(campaign), 60, "the campaign was not sent")
    time.sleep(2)  # let the other runs' batches finish: they must find nothing to send
    _assert_once(campaign)
    assert CampaignMember.objects.filter(campaign=campaign, holdout=True).count() == 2


def test_a_worker_killed_half_way_loses_nothing(setup, workers, through_the_broker):
    chief, _members = setup
    first = workers("w1", LOYALTY_JOB_BATCH_DELAY=1.0)
    campaign = _campaign(chief)
    campaigns.campaign_launch(campaign=campaign, staff=chief)
    first.wait_for("(campaign_send, 4 ids) started", timeout=30)
    time.sleep(0.5)
    first.kill(signal.SIGKILL)
    workers("w2")
    wait_until(_sent(campaign), 60, "the campaign was not sent after the kill")
    _assert_once(campaign)
