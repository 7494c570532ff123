"""The staff pages fit the staff's day: the index in the order of their work, dates in the
staff member's own language and the program's time zone, English dates that read one way."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from feedback import services as feedback_services
from loyalty.admin_site import app_sort_key
from loyalty.base.formats import short_datetime
from tests import factories

TZ = timezone.get_current_timezone()
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=TZ)  # a Monday morning in the program's time zone
FEEDBACK_LIST = "admin:feedback_feedbackitem_changelist"
LEDGER_LIST = "admin:loyalty_ledgerentry_changelist"


@pytest.fixture
def complaint(member):
    """A complaint filed at T0: its first answer is due two days later, 25 Nov 2026 09:00."""
    return feedback_services.feedback_file(
        member=member,
        kind="complaint",
        category="service",
        text="The cashier was rude to me today.",
        at=T0,
    )


@pytest.fixture
def gift(member):
    """Points given at 17:53 in Vilnius (15:53 UTC)."""
    with time_machine.travel(T0.replace(hour=17, minute=53), tick=False):
        return factories.give_points(member, 50)


def _staff(language: str):
    user = get_user_model().objects.create_user(
        email=f"staff-{language or 'site'}@example.com",
        password="x",
        is_staff=True,
        language=language,
    )
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_feedbackitem", "view_ledgerentry"])
    )
    return user


# --- the index ------------------------------------------------------------------------------


def test_the_index_lists_the_staff_work_first_and_the_internals_last(admin_client):
    # when
    response = admin_client.get(reverse("admin:index"))

    # then
    assert response.status_code == 200
    labels = [app["app_label"] for app in response.context["app_list"]]
    assert labels == [
        "accounts",
        "loyalty",
        "rewards",
        "feedback",
        "insights",
        "referrals",
        "imports",
        "notifications",
        "webhooks",
        "auditlog",
        # then the rest by name: "Axes", "Otp_Totp", "Periodic Tasks"
        "axes",
        "otp_totp",
        "django_celery_beat",
        "auth",
    ]
    models = {
        app["app_label"]: [model["object_name"] for model in app["models"]]
        for app in response.context["app_list"]
    }
    assert models["accounts"][0] == "Member"
    assert models["loyalty"][:3] == ["LedgerEntry", "Purchase", "Refund"]
    assert models["feedback"][0] == "FeedbackItem"
    assert models["rewards"][0] == "Redemption"


def test_the_sidebar_follows_the_same_order(admin_client):
    # when: any admin page but the index
    response = admin_client.get(reverse("admin:loyalty_tier_changelist"))

    # then
    sidebar = [app["app_label"] for app in response.context["available_apps"]]
    assert sidebar[:4] == ["accounts", "loyalty", "rewards", "feedback"]
    assert sidebar[-1] == "auth"


def test_an_app_page_lists_its_models_in_the_order_of_the_work(admin_client):
    # when
    response = admin_client.get(reverse("admin:app_list", args=["rewards"]))

    # then
    apps = response.context["app_list"]
    assert [app["app_label"] for app in apps] == ["rewards"]
    assert [m["object_name"] for m in apps[0]["models"]] == [
        "Redemption",
        "Voucher",
        "Gift",
        "Reward",
        "CardTemplate",
        "BirthdayGiftSettings",
        "OccasionGrant",
    ]


def test_the_order_takes_insights_in_its_place_and_unknown_apps_after_ours():
    # given: apps as the admin builds them, an insights app and another third-party app among
    apps = [
        {"app_label": label, "name": name}
        for label, name in [
            ("auth", "Authentication and Authorization"),
            ("zeta", "Another library"),
            ("webhooks", "Webhooks"),
            ("insights", "Insights"),
            ("axes", "Axes"),
            ("feedback", "Feedback"),
            ("accounts", "Accounts"),
        ]
    ]

    # when
    labels = [app["app_label"] for app in sorted(apps, key=app_sort_key)]

    # then
    assert labels == ["accounts", "feedback", "insights", "webhooks", "zeta", "axes", "auth"]


# --- dates ----------------------------------------------------------------------------------


def test_english_dates_put_the_day_first_with_a_24_hour_clock(client, complaint, gift):
    # given: a staff user who chose no language reads the site's (English)
    client.force_login(_staff(""))

    # when
    queue = client.get(reverse(FEEDBACK_LIST)).content.decode()
    ledger = client.get(reverse(LEDGER_LIST)).content.decode()

    # then: the deadline (a short date-time) and the entry's time (Django's own column), both
    # in Vilnius time, and nowhere the American "11/25/2026 9 a.m."
    assert "25 Nov 2026, 09:00" in queue
    assert "23 November 2026, 17:53" in ledger
    assert "11/25/2026" not in queue
    assert "p.m." not in ledger


def test_a_staff_member_reads_the_admin_in_their_own_language(client, complaint, gift):
    # given: the browser asks for English; the staff member chose Lithuanian
    client.force_login(_staff("lt"))

    # when
    queue = client.get(reverse(FEEDBACK_LIST), HTTP_ACCEPT_LANGUAGE="en")
    ledger = client.get(reverse(LEDGER_LIST), HTTP_ACCEPT_LANGUAGE="en")

    # then
    assert queue["Content-Language"] == "lt"
    assert "2026-11-25 09:00" in queue.content.decode()
    assert "2026 m. lapkričio 23 d. 17:53" in ledger.content.decode()


def test_without_a_language_of_their_own_the_browser_chooses(client, complaint):
    # given
    client.force_login(_staff(""))

    # when
    queue = client.get(reverse(FEEDBACK_LIST), HTTP_ACCEPT_LANGUAGE="da")

    # then
    assert queue["Content-Language"] == "da"
    assert "25.11.2026 09.00" in queue.content.decode()  # CLDR: a full stop in Danish times


def test_the_staff_language_stays_on_the_admin(client, member):
    # given: a staff member who reads Lithuanian in the admin
    client.force_login(_staff("lt"))

    # when: they open a member page in an English browser
    response = client.get(reverse("members:login"), HTTP_ACCEPT_LANGUAGE="en")

    # then
    assert response["Content-Language"] == "en"


@pytest.mark.parametrize(
    ("language", "short", "long"),
    # (CLDR's patterns: tests/test_locale_forms.py; U+202F before "г.")
    [
        ("en", "25 Nov 2026, 09:00", "25 November 2026, 09:00"),
        ("bg", "25.11.2026\u202fг., 9:00", "25 ноември 2026\u202fг., 9:00"),
        ("lt", "2026-11-25 09:00", "2026 m. lapkričio 25 d. 09:00"),
        ("ru", "25.11.2026, 09:00", "25 ноября 2026\u202fг., 09:00"),
    ],
)
def test_date_times_in_each_language(language, short, long):
    # given: a moment in UTC, 07:00, which is 09:00 in Vilnius
    moment = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)

    # when
    with translation.override(language):
        texts = short_datetime(moment), date_format(timezone.localtime(moment), "DATETIME_FORMAT")

    # then
    assert texts == (short, long)
