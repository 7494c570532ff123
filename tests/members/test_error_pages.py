"""The site's own 404 and 500 pages: branded, in the member's language, never a bare page."""

import pytest
from django.utils import translation

from accounts.models import Member


def _in_lithuanian(text: str) -> str:
    with translation.override("lt"):
        translated = translation.gettext(text)
    assert translated != text
    return translated


def test_a_missing_page_is_the_sites_404_in_the_members_language(member_client, web_member):
    # given: a member who reads Lithuanian (the browser asks for English)
    Member.objects.filter(pk=web_member.pk).update(language="lt")

    # when: an address no page has (no view runs, so no middleware found the member)
    response = member_client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="en")

    # then: the branded page, with the member's menu, in Lithuanian
    html = response.content.decode()
    assert response.status_code == 404
    assert [t.name for t in response.templates][:2] == ["404.html", "base.html"]
    assert '<html lang="lt">' in html
    assert '<header class="site-header">' in html
    assert _in_lithuanian("Dashboard") in html  # the member's menu
    assert 'href="/dashboard/"' in html


def test_a_visitor_gets_the_404_in_the_browsers_language(client, db):
    # when
    response = client.get("/no-such-page/", HTTP_ACCEPT_LANGUAGE="lt")

    # then
    html = response.content.decode()
    assert response.status_code == 404
    assert '<html lang="lt">' in html
    assert _in_lithuanian("Log in") in html
    assert 'href="/dashboard/"' not in html


def test_an_unknown_api_address_stays_a_json_problem(client, db):
    # when
    response = client.get("/api/v1/no-such-endpoint/")

    # then
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.urls("tests.members.error_urls")
def test_a_failing_page_is_the_sites_500_in_the_members_language(member_client, web_member):
    # given: a member who reads Lithuanian, and a page with a bug
    Member.objects.filter(pk=web_member.pk).update(language="lt")
    member_client.raise_request_exception = False

    # when
    response = member_client.get("/fail/", HTTP_ACCEPT_LANGUAGE="en")

    # then: the branded page (it needs neither the database nor the member), in Lithuanian
    html = response.content.decode()
    assert response.status_code == 500
    assert '<html lang="lt">' in html
    assert '<header class="site-header">' in html
    assert _in_lithuanian("Something went wrong on our side") in html
    assert "Traceback" not in html and "A bug in a member page" not in html
