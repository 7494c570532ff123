import itertools
from datetime import datetime
from decimal import Decimal

import pytest

from loyalty.core.purchases import purchase_record
from tests import factories

_seq = itertools.count(1)

REFERRER_BONUS = 200
FRIEND_BONUS = 100


@pytest.fixture(autouse=True)
def _referral_settings(settings):
    settings.REFERRAL_BONUS_REFERRER = REFERRER_BONUS
    settings.REFERRAL_BONUS_FRIEND = FRIEND_BONUS
    settings.REFERRAL_MIN_PURCHASE = "20.00"
    settings.REFERRAL_QUALIFY_DAYS = 30
    settings.REFERRAL_MONTHLY_CAP = 10
    settings.REFERRAL_RETURN_WINDOW_DAYS = 30
    settings.REFERRAL_INVITES_PER_DAY = 5
    settings.REFERRAL_JOIN_URL = "https://loyalty.example/join/"
    settings.LOYALTY_CURRENCY = "EUR"


@pytest.fixture
def referrer(db, tiers):
    return factories.make_member(email="ona.kaz@gmail.com", first_name="Ona", language="en")


@pytest.fixture
def code(referrer):
    return referrer.referral_code.code


@pytest.fixture
def shop(db, base_rule):
    return factories.make_partner("Bakery")


def join(code, email=None, **kwargs):
    """A friend enrols with the code (as the web sign-up or the API would)."""
    kwargs.setdefault("first_name", "Jonas")
    return factories.make_member(
        email=email or f"friend{next(_seq)}@example.com", referral_code=code, **kwargs
    )


def buy(partner, member, amount="25.00", at: datetime | None = None, **kwargs):
    kwargs.setdefault("external_id", f"P{next(_seq)}")
    return purchase_record(
        partner=partner,
        member=member,
        amount=Decimal(amount),
        currency="EUR",
        occurred_at=at,
        at=at,
        **kwargs,
    )
