"""Campaigns: the holdout is random, of the asked size, and never gets the offer; each treated
member gets it once, whatever reruns, double beats or a second worker do; results compare the
two groups with a confidence interval."""

import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from insights import campaigns, services
from insights.errors import CampaignNotDraft
from insights.models import Campaign, CampaignMember
from loyalty.core.jobs import job_run
from loyalty.core.models import LedgerEntry
from notifications.models import Message
from rewards.models import Voucher
from tests.factories import make_member, make_reward

from .helpers import buy

pytestmark = pytest.mark.django_db

LANGS = ("en", "lt", "bg", "da", "ru", "pl")


@pytest.fixture
def chief(db):
    return get_user_model().objects.create_superuser(email="chief@example.com", password="x")


def draft(chief, **kwargs) -> Campaign:
    fields = {f"subject_{code}": f"We miss you ({code})" for code in LANGS}
    fields |= {f"card_{code}": f"Come back, here is a gift ({code})." for code in LANGS}
    fields |= {"name": "Winter", "offer": Campaign.Offer.POINTS, "points": 40}
    fields.update(kwargs)
    return services.campaign_save(campaign=Campaign(**fields), staff=chief)


@pytest.fixture
def launch(django_capture_on_commit_callbacks):
    """Launch as staff do: the sending job starts after the launch commits (eager here)."""

    def go(campaign, staff):
        with django_capture_on_commit_callbacks(execute=True):
            return campaigns.campaign_launch(campaign=campaign, staff=staff)

    return go


@pytest.fixture
def crowd(tiers):
    return [make_member(email=f"c{k}@example.com", language=LANGS[k % 6]) for k in range(50)]


def test_the_holdout_is_of_the_asked_size_random_and_gets_nothing(crowd, chief, launch):
    first = draft(chief, holdout_percent=10)
    assert launch(first, chief) == 50
    held = set(first.members.filter(holdout=True).values_list("member_id", flat=True))
    assert len(held) == 5
    # another launch draws another holdout
    second = draft(chief, name="Winter again", holdout_percent=10)
    launch(second, chief)
    again = set(second.members.filter(holdout=True).values_list("member_id", flat=True))
    assert len(again) == 5 and again != held
    # sent eagerly after the launch's commit: the treated got the points and the card once
    for member in crowd:
        entries = LedgerEntry.objects.filter(member=member, kind="gift").count()
        cards = Message.objects.filter(member=member, kind="campaign").count()
        expected = (member.pk not in held) + (member.pk not in again)
        assert (entries, cards) == (expected, expected)
    first.refresh_from_db()
    assert first.status == Campaign.Status.SENT
    assert not CampaignMember.objects.filter(holdout=True, sent_at__isnull=False).exists()


def test_a_holdout_draw_is_uniform(crowd):
    # every member is held out about equally often over many draws
    ids = [m.pk for m in crowd]
    counts = dict.fromkeys(ids, 0)
    chooser = random.Random(7)
    for _ in range(2000):
        for pk in chooser.sample(ids, campaigns.holdout_size(len(ids), 10)):
            counts[pk] += 1
    assert min(counts.values()) > 130 and max(counts.values()) < 270  # expected 200 each


def test_the_card_is_in_the_members_language(crowd, chief, launch):
    campaign = draft(chief)
    launch(campaign, chief)
    for row in campaign.members.filter(holdout=False).select_related("member"):
        message = Message.objects.get(member=row.member, kind="campaign")
        assert message.subject == f"We miss you ({row.member.language})"
        assert f"gift ({row.member.language})" in message.body


def test_a_rerun_and_a_second_launch_give_nothing_more(crowd, chief, launch):
    campaign = draft(chief)
    launch(campaign, chief)
    before = LedgerEntry.objects.filter(kind="gift").count()
    assert before == 45
    run = job_run(name="campaigns")
    assert run.batches_planned == 0
    # even a batch handed the sent rows again does nothing
    ids = list(campaign.members.values_list("pk", flat=True))
    assert campaigns.campaign_send_batch(ids=ids, day=timezone.localdate()).paid == 0
    with pytest.raises(CampaignNotDraft):
        campaigns.campaign_launch(campaign=campaign, staff=chief)
    with pytest.raises(CampaignNotDraft):
        services.campaign_save(campaign=campaign, staff=chief)
    assert LedgerEntry.objects.filter(kind="gift").count() == before


def test_a_voucher_offer_issues_one_voucher(crowd, chief, launch):
    reward = make_reward(points_cost=120)
    campaign = draft(chief, offer=Campaign.Offer.VOUCHER, points=0, reward=reward)
    launch(campaign, chief)
    treated = campaign.members.filter(holdout=False)
    assert Voucher.objects.count() == treated.count() == 45
    row = treated.select_related("member").first()
    assert row.member.points_balance == 0  # the gift paid for the voucher, nothing more
    assert (
        Voucher.objects.get(pk=row.voucher_id).code
        in Message.objects.get(member=row.member, kind="campaign").body
    )


def test_a_segment_picks_its_members(crowd, chief):
    campaign = draft(chief, segment={"languages": ["lt"]})
    count, sample = campaigns.campaign_preview(campaign)
    assert count == sum(1 for m in crowd if m.language == "lt") == len(sample)


def test_results_compare_the_groups(crowd, chief, launch, partner, base_rule):
    campaign = draft(chief, holdout_percent=20)
    launch(campaign, chief)
    rows = list(campaign.members.select_related("member"))
    treated = [r.member for r in rows if not r.holdout]
    held = [r.member for r in rows if r.holdout]
    later = timezone.localdate() + timedelta(days=2)
    for member in treated[:20] + held[:2]:
        buy(member, partner, later, amount="30.00")
    results = campaigns.campaign_results(campaign, now=timezone.now() + timedelta(days=40))
    assert results["treated"]["members"] == 40 and results["held"]["members"] == 10
    assert results["treated"]["came_back"] == 20 and results["held"]["came_back"] == 2
    assert Decimal(results["treated"]["spend"]) == Decimal("600.00")
    interval = results["came_back"]
    assert (interval["treated"], interval["held"], interval["difference"]) == (
        "50.0",
        "20.0",
        "30.0",
    )
    # 0.3 ± 1.96 × sqrt(0.5·0.5/40 + 0.2·0.8/10) = 0.3 ± 0.2924
    assert (interval["low"], interval["high"]) == ("0.8", "59.2")
    assert results["complete"] is True


def test_the_admin_pages(crowd, chief, client, django_capture_on_commit_callbacks):
    client.force_login(chief)
    add = client.get(reverse("admin:insights_campaign_add"))
    assert add.status_code == 200
    campaign = draft(chief, segment={"languages": ["da"]})
    page = client.get(reverse("admin:insights_campaign_change", args=[campaign.pk]))
    assert "held out at random" in page.content.decode()
    launch = reverse("admin:insights_campaign_launch", args=[campaign.pk])
    assert client.get(launch).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(launch).status_code == 302
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    page = client.get(reverse("admin:insights_campaign_change", args=[campaign.pk]))
    assert page.status_code == 200 and "Sent the offer" in page.content.decode()
    # launching again is refused with a message, nothing more is sent
    client.post(launch)
    assert (
        Message.objects.filter(kind="campaign").count()
        == campaign.members.filter(holdout=False).count()
    )


def test_the_gift_is_worded_in_the_members_history(crowd, chief, client, launch):
    campaign = draft(chief)
    launch(campaign, chief)
    row = campaign.members.filter(holdout=False, member__language="en").first()
    client.force_login(row.member.user)
    page = client.get(reverse("members:history")).content.decode()
    assert "A gift from us, with a card in your inbox" in page


def test_staff_write_a_draft_in_the_admin(crowd, chief, client, tiers):
    client.force_login(chief)
    data = {f"subject_{code}": f"Hi {code}" for code in LANGS}
    data |= {f"card_{code}": f"Card {code}" for code in LANGS}
    data |= {
        "name": "Spring",
        "offer": "points",
        "points": "30",
        "holdout_percent": "10",
        "reactivation_days": "30",
        "rungs": ["at_risk", "lapsed"],
        "tiers": [str(tiers["bronze"].pk)],
        "r": ["1", "2"],
        "languages": ["lt"],
    }
    response = client.post(reverse("admin:insights_campaign_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    campaign = Campaign.objects.get(name="Spring")
    assert campaign.segment == {
        "rungs": ["at_risk", "lapsed"],
        "tiers": [tiers["bronze"].pk],
        "r": [1, 2],
        "languages": ["lt"],
    }
    assert campaign.created_by == chief and campaign.status == Campaign.Status.DRAFT
    # a points offer without points is refused with a message on the form, nothing saved
    data |= {"name": "Empty", "points": "0"}
    response = client.post(reverse("admin:insights_campaign_add"), data)
    assert response.status_code == 200
    assert not Campaign.objects.filter(name="Empty").exists()


def test_a_voucher_the_reward_refuses_is_recorded_and_not_tried_again(crowd, chief, launch, tiers):
    gold_only = make_reward(points_cost=120, min_tier=tiers["gold"])
    campaign = draft(chief, offer=Campaign.Offer.VOUCHER, points=0, reward=gold_only)
    launch(campaign, chief)
    treated = campaign.members.filter(holdout=False)
    assert set(treated.values_list("not_given", flat=True)) == {"tier_too_low"}
    assert not treated.filter(sent_at__isnull=False).exists() and not Voucher.objects.exists()
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT  # nobody is left to send to
    assert job_run(name="campaigns").batches_planned == 0
    assert not LedgerEntry.objects.filter(kind="gift").exists()  # the credit rolled back


def test_a_campaign_whose_audience_is_all_held_out_is_sent_at_launch(tiers, chief, launch):
    make_member(email="only@example.com")
    campaign = draft(chief, holdout_percent=50)  # round(1 × 50%) = 1: the one member
    launch(campaign, chief)
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert campaign.members.get().holdout


def test_drafts_are_deleted_by_staff_who_may_and_launched_ones_never(crowd, chief, client, launch):
    from django.contrib.auth.models import Permission

    viewer = get_user_model().objects.create_user(email="v@example.com", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_campaign"))
    draft_one = draft(chief, name="Draft")
    client.force_login(viewer)
    delete = reverse("admin:insights_campaign_delete", args=[draft_one.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    launched = draft(chief, name="Launched")
    launch(launched, chief)
    client.force_login(chief)
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert not Campaign.objects.filter(pk=draft_one.pk).exists()
    gone = reverse("admin:insights_campaign_delete", args=[launched.pk])
    assert client.post(gone, {"post": "yes"}).status_code == 403
    with pytest.raises(CampaignNotDraft):
        services.campaign_delete(campaign=launched, staff=chief)
