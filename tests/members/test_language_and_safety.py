import re

from django.conf import settings
from django.test import Client
from django.urls import reverse

from accounts.models import Member, User
from rewards.models import Redemption
from tests import factories


def _html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)">', response.content.decode())[1]


def test_switching_the_language_is_kept_on_the_membership_and_serves_the_next_page_in_it(
    member_client, web_member
):
    # when
    response = member_client.post(
        reverse("members:set_language"), {"language": "bg", "next": reverse("members:history")}
    )

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("members:history")
    web_member.refresh_from_db()
    assert web_member.language == "bg"
    page = member_client.get(reverse("members:history"))
    assert _html_lang(page) == "bg"
    assert page["Content-Language"] == "bg"


def test_the_members_language_wins_over_the_browsers_on_every_device(client, web_member):
    # given: a new device whose browser prefers Russian, and a member who chose Danish
    Member.objects.filter(pk=web_member.pk).update(language="da")
    client.force_login(web_member.user)

    # when
    page = client.get(reverse("members:dashboard"), HTTP_ACCEPT_LANGUAGE="ru")

    # then
    assert _html_lang(page) == "da"


def test_a_visitor_can_switch_the_language_too(client, db):
    # when
    response = client.post(reverse("members:set_language"), {"language": "lt", "next": "/"})
    page = client.get(reverse("members:home"))

    # then
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "lt"
    assert _html_lang(page) == "lt"


def test_an_unknown_language_changes_nothing(member_client, web_member):
    # when
    member_client.post(reverse("members:set_language"), {"language": "xx", "next": "/"})

    # then
    web_member.refresh_from_db()
    assert web_member.language == "en"


def test_every_form_needs_the_csrf_token(web_member, tiers):
    # given
    client = Client(enforce_csrf_checks=True)
    client.force_login(web_member.user)
    factories.give_points(web_member, 500)
    reward = factories.make_reward(slug="coffee", points_cost=100)

    # when
    responses = [
        client.post(reverse("members:redeem", args=[reward.slug])),
        client.post(reverse("members:profile"), {"first_name": "X", "language": "en"}),
        client.post(reverse("members:set_language"), {"language": "lt"}),
        client.post(reverse("members:logout")),
        Client(enforce_csrf_checks=True).post(
            reverse("members:login"), {"username": "ieva@example.com", "password": "x"}
        ),
    ]

    # then
    assert [r.status_code for r in responses] == [403] * 5
    assert not Redemption.objects.exists()
    web_member.refresh_from_db()
    assert web_member.language == "en"


def test_member_pages_ask_visitors_to_log_in(client, db):
    # when
    response = client.get(reverse("members:rewards"))

    # then
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('members:login')}?next={reverse('members:rewards')}"


def test_a_user_without_a_membership_gets_a_friendly_page(client, staff_user):
    # given
    client.force_login(staff_user)

    # when
    responses = [
        client.get(reverse(name))
        for name in ("members:dashboard", "members:history", "members:rewards", "members:inbox")
    ]

    # then
    assert [r.status_code for r in responses] == [403] * 4
    assert "These pages are for members" in responses[0].content.decode()
    assert "Go to the staff site" in responses[0].content.decode()


def test_the_home_page_welcomes_visitors_and_sends_members_to_their_dashboard(client, web_member):
    # when
    visitor = client.get(reverse("members:home"))
    client.force_login(web_member.user)
    member = client.get(reverse("members:home"))

    # then
    assert visitor.status_code == 200
    assert reverse("members:signup") in visitor.content.decode()
    assert member.status_code == 302
    assert member["Location"] == reverse("members:dashboard")


def test_member_pages_send_a_content_security_policy_and_are_not_cached(member_client):
    # when
    response = member_client.get(reverse("members:dashboard"))

    # then
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy  # our own script files (the counters), nothing inline
    assert "unsafe-inline" not in policy
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "private" in response["Cache-Control"]


def test_the_admin_keeps_its_own_pages(client, staff_user):
    # given
    User.objects.filter(pk=staff_user.pk).update(is_superuser=True)
    client.force_login(staff_user)

    # when
    response = client.get(reverse("admin:index"))

    # then
    assert response.status_code == 200
    # its own policy: the admin's script files run
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
