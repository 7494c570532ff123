"""Test data, made through the services wherever a service owns the write."""

import itertools
from decimal import Decimal

from accounts import services as account_services
from accounts.models import Member, Partner
from loyalty.core.enrolment import member_enroll
from loyalty.core.models import EarningRule, Tier

_seq = itertools.count(1)


def make_tiers() -> dict[str, Tier]:
    return {
        "bronze": Tier.objects.create(code="bronze", name="Bronze", rank=0),
        "silver": Tier.objects.create(
            code="silver",
            name="Silver",
            rank=1,
            qualifying_points=500,
            earn_multiplier=Decimal("1.25"),
            discount_percent=5,
        ),
        "gold": Tier.objects.create(
            code="gold",
            name="Gold",
            rank=2,
            qualifying_points=1500,
            earn_multiplier=Decimal("1.5"),
            discount_percent=10,
        ),
    }


def make_member(**kwargs) -> Member:
    kwargs.setdefault("email", f"member{next(_seq)}@example.com")
    return member_enroll(**kwargs)


def make_partner(name: str | None = None, currency: str = "EUR") -> Partner:
    return account_services.partner_create(name=name or f"Shop {next(_seq)}", currency=currency)


def make_rule(**kwargs) -> EarningRule:
    kwargs.setdefault("name", f"Rule {next(_seq)}")
    if "multiplier" not in kwargs:
        kwargs.setdefault("points_per_unit", Decimal(1))
    return EarningRule.objects.create(**kwargs)


def make_reward(**kwargs):
    from rewards.models import Reward

    kwargs.setdefault("slug", f"reward-{next(_seq)}")
    kwargs.setdefault("name_en", kwargs["slug"].replace("-", " ").title())
    kwargs.setdefault("kind", Reward.Kind.FREE_ITEM)
    kwargs.setdefault("points_cost", 100)
    return Reward.objects.create(**kwargs)


def give_points(member, points, expires_on=None):
    from loyalty.core.ledger import points_credit
    from loyalty.core.models import LedgerEntry

    return points_credit(
        member=member,
        points=points,
        kind=LedgerEntry.Kind.GIFT,
        cause=member,
        expires_on=expires_on,
    )
