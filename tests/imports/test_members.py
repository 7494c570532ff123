"""Importing members: through the enrolment service, a dry run that changes nothing, the real
run enrolling exactly the good rows (no welcome), opening balances, and a re-run adding nothing."""

import pytest
from auditlog.models import LogEntry

from accounts.models import Member, User
from accounts.services import member_number_unused
from loyalty.core.models import LedgerEntry
from loyalty.core.wording import entry_words
from notifications.models import Message
from tests import factories
from webhooks.models import WebhookEvent

from .conftest import errors_of

pytestmark = pytest.mark.django_db

HEADER = ["email", "first_name", "last_name", "birthday", "language", "member_number",
          "joined_on", "points"]  # fmt: skip


@pytest.fixture
def members_file(tiers, write_csv):
    factories.make_member(email="already@example.com")
    number = member_number_unused()
    rows = [
        ["Ona@Example.com", "Ona", "Šimkutė", "1990-04-02", "lt", number, "2019-05-01", "250"],
        ["jonas@example.com", "Jonas", "", "04-05", "", "", "", ""],
        ["already@example.com", "Old", "", "", "", "", "", "10"],  # there already: skipped
        ["not-an-address", "", "", "", "", "", "", ""],  # 5
        ["bad-day@example.com", "", "", "1990-02-30", "", "", "", ""],  # 6
        ["lang@example.com", "", "", "", "xx", "", "", ""],  # 7
        ["number@example.com", "", "", "", "", "123456789", "", ""],  # 8
        ["joined@example.com", "", "", "", "", "", "2999-01-01", ""],  # 9
        ["points@example.com", "", "", "", "", "", "", "-5"],  # 10
        ["ONA@example.com", "Twin", "", "", "", "", "", ""],  # 11: the same as row 2
    ]
    return write_csv(rows, header=HEADER, name="members.csv"), number


EXPECTED = [
    (5, "email", "invalid_email", {}),
    (6, "birthday", "invalid_birthday", {}),
    (7, "language", "invalid_language", {}),
    (8, "member_number", "invalid_member_number", {}),
    (9, "joined_on", "invalid_date", {}),
    (10, "points", "invalid_points", {}),
    (11, "email", "duplicate_member_in_file", {"row": 2}),
]


def test_a_dry_run_lists_the_bad_rows_and_enrols_no_one(members_file, run_import):
    # given
    path, _number = members_file
    users, members = User.objects.count(), Member.objects.count()

    # when
    job = run_import(path, kind="members", dry_run=True)

    # then
    assert errors_of(job) == EXPECTED
    assert (job.rows, job.bad, job.skipped, job.to_import, job.points) == (10, 7, 1, 2, 250)
    assert (User.objects.count(), Member.objects.count()) == (users, members)


def test_the_real_run_enrols_the_good_rows_quietly_and_a_rerun_adds_nothing(
    members_file, run_import, importer
):
    # given
    path, number = members_file
    messages, events = Message.objects.count(), WebhookEvent.objects.count()

    # when
    job = run_import(path, kind="members")
    again = run_import(path, kind="members")

    # then
    assert errors_of(job) == EXPECTED
    assert (job.done, job.bad, job.skipped, job.points) == (2, 7, 1, 250)
    ona = Member.objects.get(user__email="ona@example.com")
    assert (ona.member_number, ona.language, str(ona.joined_on)) == (number, "lt", "2019-05-01")
    assert (ona.birthday_month, ona.birthday_day, ona.birthday_year) == (4, 2, 1990)
    assert ona.points_balance == 250
    [opening] = LedgerEntry.objects.filter(member=ona)
    assert (opening.kind, opening.cause) == ("earn", job)
    assert entry_words(opening) == "Points brought over from your previous loyalty programme"
    assert opening.lot.expires_on is not None
    jonas = Member.objects.get(user__email="jonas@example.com")
    assert (jonas.birthday_month, jonas.birthday_day, jonas.tier.code) == (4, 5, "bronze")
    # no welcome for members brought over
    assert (Message.objects.count(), WebhookEvent.objects.count()) == (messages, events)
    # the enrolments are on the audit trail as the importer's
    created = LogEntry.objects.filter(
        content_type__model="member", object_pk=str(ona.pk), action=LogEntry.Action.CREATE
    )
    assert [record.actor for record in created] == [importer]
    # a re-run adds nothing
    assert (again.done, again.skipped, again.bad) == (0, 3, 7)
    assert Member.objects.filter(user__email="ona@example.com").count() == 1
