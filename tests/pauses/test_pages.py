"""The member's "Take a break" on the profile and the dashboard's kind line."""

from datetime import date

import pytest
from django.urls import reverse

from accounts.models import Member
from loyalty.core.pause_models import Pause, PausePolicy
from loyalty.core.pauses import pause_end
from tests.jobs.conftest import travel

pytestmark = pytest.mark.django_db


def _ask(client, **data):
    return client.post(reverse("members:pause_ask"), data)


def _login(client, member):
    """Log in again after the clock moved (a session does not outlive its age)."""
    client.force_login(member.user)


def test_the_profile_offers_a_break_up_to_the_policys_longest(member_client):
    # given
    PausePolicy.objects.filter(pk=1).update(longest_months=3)
    # when
    page = member_client.get(reverse("members:profile"))
    # then
    assert page.status_code == 200
    assert [value for value, _label in page.context["pause_form"].fields["months"].choices] == [
        1,
        2,
        3,
    ]
    assert "Take a break" in page.content.decode()


def test_a_member_asks_and_the_break_starts_at_once(member_client, web_member):
    # when
    with travel(date(2027, 1, 10)):
        _login(member_client, web_member)
        response = _ask(member_client, months="2", reason="")
        dashboard = member_client.get(reverse("members:dashboard"))
        profile = member_client.get(reverse("members:profile"))
    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("members:profile")
    pause = Pause.objects.get(member=web_member)
    assert (pause.status, pause.ends_on, pause.reason) == ("running", date(2027, 3, 10), "")
    line = (
        "Your membership is paused until 10 March 2027. Your points and vouchers wait for you; "
        "nothing expires meanwhile."
    )
    assert line in dashboard.content.decode()
    assert line in profile.content.decode()
    assert "Pause my membership" not in profile.content.decode()


def test_a_request_that_waits_says_so(member_client, web_member):
    # given
    PausePolicy.objects.filter(pk=1).update(grant_automatically=False)
    # when
    response = _ask(member_client, months="1", reason="Lost my job")
    dashboard = member_client.get(reverse("members:dashboard"))
    # then
    assert response.status_code == 302
    assert Pause.objects.get(member=web_member).status == "requested"
    assert Member.objects.get(pk=web_member.pk).status == "active"
    assert "Your request for a break is with our team." in dashboard.content.decode()


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"months": "9"}, {"months"}),
        ({"months": ""}, {"months"}),
        ({"months": "1", "reason": "x" * 501}, {"reason"}),
    ],
)
def test_bad_input_is_shown_on_the_form(member_client, web_member, data, errors):
    # when
    response = _ask(member_client, **data)
    # then
    assert response.status_code == 200
    assert set(response.context["pause_form"].errors) == errors
    assert not Pause.objects.exists()


def test_too_soon_after_the_last_break_is_said_kindly(member_client, web_member, staff_user):
    # given: a break from 10 January 2027, ended early
    with travel(date(2027, 1, 10)):
        _login(member_client, web_member)
        _ask(member_client, months="1")
    with travel(date(2027, 1, 15)):
        pause_end(member=web_member, staff_user=staff_user)
    # when: the profile, and a request posted anyway (an old tab)
    with travel(date(2027, 6, 1)):
        _login(member_client, web_member)
        page = member_client.get(reverse("members:profile"))
        response = _ask(member_client, months="1")
    # then
    assert page.status_code == 200
    assert "You can ask for another one from 10 January 2028" in page.content.decode()
    assert response.status_code == 200
    assert response.context["pause_form"].non_field_errors() == [
        "You can ask for another break from 10 January 2028."
    ]
    assert Pause.objects.count() == 1


def test_asking_twice_is_refused_without_a_change(member_client, web_member):
    # given
    _ask(member_client, months="1")
    # when
    response = _ask(member_client, months="2")
    # then
    assert response.status_code == 200
    assert response.context["pause_form"].non_field_errors() == [
        "Your membership is paused already, or your request is with us."
    ]
    assert Pause.objects.get().months == 1


def test_asking_needs_a_post(member_client):
    assert member_client.get(reverse("members:pause_ask")).status_code == 405
