"""Shared set-up of the pending points tests: a shop with a 14-day return window, a clock."""

from datetime import date

import pytest

from accounts.models import Member
from accounts.services import partner_update
from loyalty.core.jobs import job_run
from loyalty.core.purchases import purchase_record
from tests import factories
from tests.jobs.conftest import travel
from tests.members.conftest import web_member  # noqa: F401 (fixture)

DAY_0 = date(2026, 12, 1)  # the purchase
DAY_14 = date(2026, 12, 15)  # its points become available


@pytest.fixture
def shop(db):
    """A shop whose purchases' points wait 14 days (its return window)."""
    partner = factories.make_partner("Weekly Market")
    return partner_update(partner=partner, changes={"return_window_days": 14})


@pytest.fixture
def rules(db):
    return {
        "base": factories.make_rule(name="One point per euro"),
        "coffee": factories.make_rule(
            name="Two points per euro on coffee", points_per_unit=2, category="coffee"
        ),
    }


def buy(shop, member, amount="120", *, external_id="P-1", on=DAY_0, lines=None, **kwargs):
    with travel(on):
        return purchase_record(
            partner=shop,
            member=member,
            external_id=external_id,
            amount=amount,
            currency="EUR",
            lines=lines,
            **kwargs,
        )


def night(day: date):
    """The daily expiry job (its release_pending step) run on `day`."""
    with travel(day):
        return job_run(name="expiry", day=day)


def fresh(member) -> Member:
    return Member.objects.select_related("user", "tier").get(pk=member.pk)
