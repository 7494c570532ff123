"""Staff's pages for hardship pauses: the list by status, grant, refuse, end now, extend, policy."""

from datetime import date

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.models import Member
from loyalty.core.pause_models import Pause, PausePolicy
from loyalty.core.pauses import pause_request
from notifications.models import Message
from tests.jobs.conftest import travel
from tests.pauses.conftest import fresh

pytestmark = pytest.mark.django_db

LIST = reverse("admin:loyalty_pause_changelist")


def _action(client, pauses, action, **data):
    return client.post(LIST, {"action": action, "_selected_action": [p.pk for p in pauses], **data})


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_the_list_filters_by_status(admin_client, ona, waiting_policy):
    # given
    pause_request(member=fresh(ona), months=2, reason="Hard times")
    # when
    waiting = admin_client.get(LIST, {"status__exact": "requested"})
    running = admin_client.get(LIST, {"status__exact": "running"})
    # then
    assert waiting.status_code == running.status_code == 200
    assert waiting.context["cl"].result_count == 1
    assert running.context["cl"].result_count == 0
    assert "Hard times" in waiting.content.decode()


def test_staff_grant_a_waiting_request(admin_client, admin_user, ona, waiting_policy):
    # given
    pause = pause_request(member=fresh(ona), months=2)
    # when
    response = _action(admin_client, [pause], "grant")
    # then
    assert response.status_code == 302
    pause.refresh_from_db()
    assert (pause.status, pause.decided_by) == ("running", admin_user)
    assert fresh(ona).status == Member.Status.PAUSED
    assert _messages(response) == [f"{ona.member_number}: the pause has started."]


def test_staff_refuse_a_waiting_request(admin_client, ona, waiting_policy):
    pause = pause_request(member=fresh(ona), months=2)
    _action(admin_client, [pause], "refuse")
    pause.refresh_from_db()
    assert pause.status == "refused"
    assert fresh(ona).status == Member.Status.ACTIVE


def test_refusing_a_running_pause_says_why_and_changes_nothing(admin_client, ona):
    # given: granted at once
    pause = pause_request(member=fresh(ona), months=2)
    # when
    response = _action(admin_client, [pause], "refuse")
    # then
    pause.refresh_from_db()
    assert pause.status == "running"
    assert _messages(response) == [
        f"{ona.member_number}: This pause is not waiting or running any more. "
        "Nothing was changed for this member."
    ]


def test_staff_end_a_pause_now(admin_client, ona):
    pause = pause_request(member=fresh(ona), months=2)
    _action(admin_client, [pause], "end_now")
    pause.refresh_from_db()
    assert pause.status == "ended"
    assert fresh(ona).status == Member.Status.ACTIVE


def test_staff_extend_a_pause_with_a_form(admin_client, ona):
    # given
    with travel(date(2027, 1, 10)):
        pause = pause_request(member=fresh(ona), months=2)
    # when
    form = _action(admin_client, [pause], "extend")
    bad = _action(admin_client, [pause], "extend", _apply="1", months="9")
    done = _action(admin_client, [pause], "extend", _apply="1", months="2")
    too_long = _action(admin_client, [pause], "extend", _apply="1", months="3")
    # then
    assert form.status_code == 200
    assert form.templates[0].name == "admin/loyalty/pause_extend.html"
    assert bad.status_code == 200
    assert "months" in bad.context["form"].errors
    assert done.status_code == 302
    assert too_long.status_code == 302
    pause.refresh_from_db()
    assert (pause.months, pause.ends_on) == (4, date(2027, 5, 10))
    assert "Nothing was changed" in _messages(too_long)[-1]


def test_a_pause_page_is_read_only(admin_client, ona):
    pause = pause_request(member=fresh(ona), months=2)
    url = reverse("admin:loyalty_pause_change", args=[pause.pk])
    page = admin_client.get(url)
    assert page.status_code == 200
    admin_client.post(url, {"months": "6"})
    pause.refresh_from_db()
    assert pause.months == 2


def test_staff_edit_the_policy(admin_client):
    # when
    opened = admin_client.get(reverse("admin:loyalty_pausepolicy_changelist"))
    response = admin_client.post(
        reverse("admin:loyalty_pausepolicy_change", args=[1]),
        {"longest_months": "3", "months_between_pauses": "6"},
    )
    bad = admin_client.post(
        reverse("admin:loyalty_pausepolicy_change", args=[1]),
        {"grant_automatically": "on", "longest_months": "7", "months_between_pauses": "6"},
    )
    # then
    assert opened.status_code == 302
    assert response.status_code == 302
    assert bad.status_code == 200
    policy = PausePolicy.objects.get()
    assert (policy.grant_automatically, policy.longest_months, policy.months_between_pauses) == (
        False,
        3,
        6,
    )


def test_a_member_admin_without_the_change_permission_cannot_act(client, staff, ona):
    # given: staff who may only look
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_pause"))
    client.force_login(staff)
    pause = pause_request(member=fresh(ona), months=2)
    # when
    _action(client, [pause], "end_now")
    # then
    assert Pause.objects.get(pk=pause.pk).status == "running"


# --- the member admin's status action ---------------------------------------------------------


def _status_action(client, members, **data):
    return client.post(
        reverse("admin:accounts_member_changelist"),
        {"action": "change_status", "_selected_action": [m.pk for m in members], **data},
    )


def test_status_action_pauses_only_for_some_months(admin_client, member):
    # when
    response = _status_action(admin_client, [member], _apply="1", status="paused", reason="Ill")

    # then
    assert response.status_code == 200
    assert response.context["form"].errors == {"months": ["Say for how many months to pause."]}
    member.refresh_from_db()
    assert member.status == Member.Status.ACTIVE
    assert not Pause.objects.exists()


def test_status_action_resumes_a_pause_through_its_end(admin_client, admin_user, member):
    # given
    _status_action(admin_client, [member], _apply="1", status="paused", months="2", reason="Ill")

    # when
    response = _status_action(admin_client, [member], _apply="1", status="active", reason="")

    # then
    assert response.status_code == 302
    member.refresh_from_db()
    assert (member.status, member.status_reason) == (Member.Status.ACTIVE, "")
    pause = Pause.objects.get(member=member)
    assert (pause.status, pause.decided_by) == ("ended", admin_user)


def test_the_status_page_of_one_member_pauses_it(admin_client, member):
    # when
    response = admin_client.post(
        reverse("admin:accounts_member_change_status", args=[member.pk]),
        {"status": "paused", "months": "1", "reason": "Flooded house"},
    )
    # then
    assert response.status_code == 302
    assert Pause.objects.get(member=member).status == "running"
    assert Message.objects.filter(member=member, kind="pause_started", language="lt").exists()
