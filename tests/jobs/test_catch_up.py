"""Missed days are never lost: the occasion jobs pay every day since their last completed run,
or tell staff loudly what they could not cover (loyalty.core.catchup)."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from accounts.models import User
from accounts.services import member_set_birthday
from loyalty.core import catchup
from loyalty.core.models import JobRun, LedgerEntry
from notifications.models import OutgoingEmail
from rewards.models import OccasionGrant
from tests.jobs.conftest import enroll, run, travel

pytestmark = pytest.mark.django_db


@pytest.fixture
def managers(db):
    group, _ = Group.objects.get_or_create(name="Managers")
    boss = User.objects.create_user(
        email="boss@example.com", password="x", is_staff=True, language="en"
    )
    boss.groups.add(group)
    return [boss]


def _birthday_member(birthday: str):
    member = enroll(joined_on=date(2024, 1, 10))
    with travel(date(2025, 1, 1)):
        member_set_birthday(member=member, birthday=birthday)
    return member


def _grants(occasion: str) -> list[tuple[int, date]]:
    return sorted(
        OccasionGrant.objects.filter(occasion=occasion).values_list("member_id", "occasion_date")
    )


def _daily(name: str, day: date) -> JobRun:
    """The scheduled run of a day, with the clock on that day."""
    with travel(day):
        return run(name)


def test_after_20_days_without_a_run_the_next_run_pays_every_missed_day_once(tiers):
    # given: both jobs ran on 1 March 2026, then stopped for 20 days (2 to 21 March)
    joined = {day: enroll(joined_on=date(2020, 3, day)) for day in (1, 2, 10, 21, 22)}
    born = {day: _birthday_member(f"03-{day:02d}") for day in (1, 2, 10, 21, 22)}
    _daily("anniversary", date(2026, 3, 1))
    _daily("birthdays", date(2026, 3, 1))
    # when: the 22nd's runs
    anniversaries = _daily("anniversary", date(2026, 3, 22))
    birthdays = _daily("birthdays", date(2026, 3, 22))
    # then: every missed day is paid, the 1st not twice
    expected = {day: date(2026, 3, day) for day in (1, 2, 10, 21, 22)}
    assert _grants("anniversary") == sorted((joined[d].pk, on) for d, on in expected.items())
    assert _grants("birthday") == sorted((born[d].pk, on) for d, on in expected.items())
    assert (anniversaries.paid, birthdays.paid) == (4, 4)
    assert anniversaries.details["catch_up"] == {
        "from": "2026-03-02",
        "last_completed": "2026-03-01",
        "not_covered": 0,
    }
    assert catchup.catch_up_notice(anniversaries) == ""
    assert not OutgoingEmail.objects.filter(kind="job_catch_up", object_id=anniversaries.pk)
    # and: a second run pays nothing more
    again = _daily("anniversary", date(2026, 3, 23))
    again_birthdays = _daily("birthdays", date(2026, 3, 23))
    assert (again.paid, again_birthdays.paid) == (0, 0)
    assert OccasionGrant.objects.count() == 10
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.GIFT).count() == 10


def test_a_run_with_errors_does_not_count_as_completed(tiers):
    # given: the run of 1 March went well; the run of 2 March failed for a member
    _daily("anniversary", date(2026, 3, 1))
    failed = _daily("anniversary", date(2026, 3, 2))
    JobRun.objects.filter(pk=failed.pk).update(errors=1)
    member = enroll(joined_on=date(2020, 3, 2))  # (the one its failed batch did not pay)
    # when: ten days later, beyond the usual 7
    job = _daily("anniversary", date(2026, 3, 12))
    # then: the window reaches back to the last run without errors
    assert job.details["catch_up"]["from"] == "2026-03-02"
    assert _grants("anniversary") == [(member.pk, date(2026, 3, 2))]


def test_a_gap_beyond_a_year_pays_the_usual_window_and_alerts_staff(
    tiers, managers, mailoutbox, django_capture_on_commit_callbacks
):
    # given: the last completed run was on 10 January 2025
    _daily("anniversary", date(2025, 1, 10))
    in_window = enroll(joined_on=date(2020, 3, 16))
    missed = enroll(joined_on=date(2020, 2, 1))
    # when: the next run, on 22 March 2026
    with django_capture_on_commit_callbacks(execute=True):
        job = _daily("anniversary", date(2026, 3, 22))
    # then: the usual window is paid; the rest is recorded, never silently skipped
    assert _grants("anniversary") == [(in_window.pk, date(2026, 3, 16))]
    not_covered = (date(2026, 3, 15) - date(2025, 1, 11)).days
    assert job.details["catch_up"] == {
        "from": "2026-03-15",
        "last_completed": "2025-01-10",
        "not_covered": not_covered,
    }
    notice = catchup.catch_up_notice(job)
    assert f"{not_covered} days after the last completed run (2025-01-10)" in notice
    assert "`manage.py run_job anniversary --date 2026-01-10`" in notice
    # and: the alerts group gets an e-mail through the outbox, with the run's admin page
    email = OutgoingEmail.objects.get(kind="job_catch_up", object_id=job.pk)
    assert email.status == OutgoingEmail.Status.SENT
    (alert,) = [m for m in mailoutbox if m.to == ["boss@example.com"]]
    assert alert.subject == "Loyalty job Anniversary thank-you for 2026-03-22: days may be missed"
    assert notice in alert.body
    assert reverse("admin:loyalty_jobrun_change", args=[job.pk]) in alert.body
    # when: staff do what it says
    out, err = StringIO(), StringIO()
    call_command("run_job", "anniversary", "--date", "2026-01-10", stdout=out, stderr=err)
    call_command("run_job", "anniversary", "--date", "2026-03-14", stdout=out, stderr=err)
    # then: the missed anniversaries (of 2025 too) are paid, once; no run has more to report
    assert _grants("anniversary") == sorted(
        [
            (in_window.pk, date(2025, 3, 16)),
            (in_window.pk, date(2026, 3, 16)),
            (missed.pk, date(2025, 2, 1)),
            (missed.pk, date(2026, 2, 1)),
        ]
    )
    assert err.getvalue() == ""


def test_with_no_run_on_record_the_usual_window_is_paid_and_staff_are_told(
    tiers, managers, mailoutbox, django_capture_on_commit_callbacks
):
    # given
    member = enroll(joined_on=date(2020, 3, 20))
    # when
    with django_capture_on_commit_callbacks(execute=True):
        job = _daily("birthdays", date(2026, 3, 22))
        anniversaries = _daily("anniversary", date(2026, 3, 22))
    # then
    assert _grants("anniversary") == [(member.pk, date(2026, 3, 20))]
    assert anniversaries.details["catch_up"] == {
        "from": "2026-03-15",
        "last_completed": None,
        "not_covered": 0,
    }
    assert "No earlier completed run of this job is on record" in catchup.catch_up_notice(job)
    alerts = [m.subject for m in mailoutbox if m.to == ["boss@example.com"]]
    assert len(alerts) == 2
    # and: the admin page of the run says it, and the command says it on stderr
    err = StringIO()
    with travel(date(2026, 3, 22)):
        call_command("run_job", "birthdays", "--date", "2026-01-01", stdout=StringIO(), stderr=err)
    assert "No earlier completed run" in err.getvalue()


def test_the_job_run_admin_shows_the_missed_days(tiers, admin_client):
    # given
    _daily("anniversary", date(2025, 1, 10))
    job = _daily("anniversary", date(2026, 3, 22))
    # when
    page = admin_client.get(reverse("admin:loyalty_jobrun_change", args=[job.pk]))
    # then
    assert page.status_code == 200
    assert "could not be covered" in page.content.decode()


def test_the_window_never_reaches_back_a_year(tiers):
    # given: the last completed run was exactly 365 days ago
    last = date(2025, 3, 22)
    _daily("anniversary", last)
    # when
    job = _daily("anniversary", last + timedelta(days=365))
    # then: 364 days back at most, so a member's anniversary falls in it at most once
    assert job.details["catch_up"]["from"] == "2025-03-23"
    assert job.details["catch_up"]["not_covered"] == 0
