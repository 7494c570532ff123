"""The demo tells one coherent story: every member's history is in date order (the welcome gift
when they joined, purchases after it, a complaint after its purchase), the demo member has one
survey invitation, and seeding again adds nothing."""

from datetime import datetime, time
from io import StringIO

import pytest
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.utils import timezone

from accounts.models import Member
from feedback.models import FeedbackItem, SurveyResponse
from loyalty.core import demo as core_demo
from loyalty.core.models import JobRun, LedgerEntry, Purchase
from notifications.models import Message
from tests.ledger import assert_ledger_invariants

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast(settings, tmp_path):
    settings.LOYALTY_WELCOME_POINTS = 50
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path


def seed() -> None:
    call_command("seed_demo", stdout=StringIO())
    call_command("seed_crowd", stdout=StringIO())


def joined_at(member: Member) -> datetime:
    return timezone.make_aware(datetime.combine(member.joined_on, time.min))


def test_every_members_history_follows_their_joining():
    seed()
    members = list(Member.objects.all())
    assert len(members) > 50
    member_type = ContentType.objects.get_for_model(Member)
    for member in members:
        start = joined_at(member)
        entries = LedgerEntry.objects.filter(member=member)
        assert not entries.filter(created_at__lt=start).exists(), member
        welcome = entries.get(cause_type=member_type, cause_id=member.pk)  # the welcome gift
        assert timezone.localdate(welcome.created_at) == member.joined_on
        first_purchase = Purchase.objects.filter(member=member).order_by("occurred_at").first()
        if first_purchase is not None:
            assert welcome.created_at < first_purchase.occurred_at
        assert not Purchase.objects.filter(member=member, occurred_at__lt=start).exists()
        assert not FeedbackItem.objects.filter(member=member, created_at__lt=start).exists()
    for item in FeedbackItem.objects.exclude(purchase=None).select_related("purchase"):
        assert item.purchase.occurred_at < item.created_at
    assert_ledger_invariants()


def test_the_demo_member_has_one_survey_invitation_to_answer():
    seed()
    member = Member.objects.get(user__email=core_demo.MEMBER_EMAIL)
    survey = SurveyResponse.objects.get(member=member)
    assert survey.answered_at is None
    assert Message.objects.filter(member=member, kind="survey").count() == 1
    # the admin's charts still have a year of answers (from the crowd)
    assert SurveyResponse.objects.filter(answered_at__isnull=False).count() == 3


def test_the_demo_member_is_told_of_points_expiring_soon():
    seed()
    member = Member.objects.get(user__email=core_demo.MEMBER_EMAIL)
    assert Message.objects.filter(member=member, kind="points_expiring").exists()


def test_the_seed_records_one_past_run_of_each_catch_up_job():
    seed()
    yesterday = timezone.localdate() - timezone.timedelta(days=1)
    runs = JobRun.objects.filter(name__in=["anniversary", "birthdays"])
    assert {(r.name, r.day, r.errors) for r in runs} == {
        ("anniversary", yesterday, 0),
        ("birthdays", yesterday, 0),
    }
    assert all(r.finished_at for r in runs)


def test_seeding_twice_adds_nothing():
    seed()
    counts = {m._meta.label: m.objects.count() for m in apps.get_models()}
    balances = dict(Member.objects.values_list("pk", "points_balance"))
    seed()
    assert {m._meta.label: m.objects.count() for m in apps.get_models()} == counts
    assert dict(Member.objects.values_list("pk", "points_balance")) == balances
