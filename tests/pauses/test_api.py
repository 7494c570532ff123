"""The partner API's member shows whether a hardship pause runs, and until when."""

from datetime import date

import pytest

from loyalty.core.pauses import pause_end, pause_request
from tests.api.conftest import make_client
from tests.jobs.conftest import travel
from tests.pauses.conftest import fresh

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(partner, base_rule):
    return make_client(partner)


def test_the_member_shows_a_running_pause_and_its_end(api, ona, staff):
    # given
    url = f"/api/v1/members/{ona.member_number}/"
    before = api.get(url).json()
    with travel(date(2027, 1, 10)):
        pause_request(member=fresh(ona), months=3)
    # when
    during = api.get(url).json()
    with travel(date(2027, 2, 1)):
        pause_end(member=fresh(ona), staff_user=staff)
    after = api.get(url).json()
    # then
    assert (before["status"], before["paused_until"]) == ("active", None)
    assert (during["status"], during["paused_until"]) == ("paused", "2027-04-10")
    assert (after["status"], after["paused_until"]) == ("active", None)


def test_a_new_member_is_active(api):
    body = api.post("/api/v1/members/", {"email": "new@example.com"}).json()
    assert (body["status"], body["paused_until"]) == ("active", None)
