"""The core's demo data: tiers, earning rules, a partner with a published API key, a staff user
and a member with a year of history. loyalty/demo.py (`python manage.py seed_demo`) runs it with
the features' demo data; never run it in production.

Each part is a function that only adds what is missing, so running the seed again changes
nothing. Every write that a service owns goes through that service; tiers and earning rules are
configuration and are written directly.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import ClassVar

from dateutil.relativedelta import relativedelta
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Member, Partner, PartnerApiKey, User

from .enrolment import member_enroll
from .ledger import points_adjust
from .models import EarningRule, Purchase, Tier
from .purchases import purchase_record
from .refunds import purchase_refund

STAFF_EMAIL = "staff@example.com"


STAFF_PASSWORD = "loyalty-staff"


MEMBER_EMAIL = "member@example.com"


MEMBER_PASSWORD = "loyalty-member"


PARTNER_NAME = "Demo Shop"


PARTNER_CURRENCY = "EUR"


# Published in the README and printed by the command: for the demo only, never for real data.
PARTNER_API_KEY = "demo.loyalty-demo-partner-key-0000000000000000"


PARTNER_API_KEY_NAME = "Demo key (published)"


COFFEE = "coffee"


PROMOTION_NAME = "Double points weekend"


# The history is drawn from this seed, so every run tells the same story (relative to today).
HISTORY_SEED = 20240514


TIERS = [
    {
        "code": "bronze",
        "name": "Bronze",
        "name_lt": "Bronzinis",
        "name_bg": "Бронз",
        "name_da": "Bronze",
        "name_ru": "Бронзовый",
        "name_pl": "Brązowy",
        "rank": 0,
        "qualifying_points": 0,
        "earn_multiplier": Decimal("1"),
        "discount_percent": Decimal("0"),
        "benefits_en": "1 point for every euro you spend, birthday greetings and member offers.",
        "benefits_lt": "1 taškas už kiekvieną išleistą eurą, sveikinimai per gimtadienį ir "
        "pasiūlymai nariams.",
        "benefits_bg": "1 точка за всяко похарчено евро, поздрав за рождения ден и оферти за "
        "членове.",
        "benefits_da": "1 point for hver euro, du bruger, fødselsdagshilsner og medlemstilbud.",
        "benefits_ru": "1 балл за каждый потраченный евро, поздравление с днём рождения и "
        "предложения для участников.",
        "benefits_pl": "1 punkt za każde wydane euro, życzenia urodzinowe i oferty dla członków.",
    },
    {
        "code": "silver",
        "name": "Silver",
        "name_lt": "Sidabrinis",
        "name_bg": "Сребро",
        "name_da": "Sølv",
        "name_ru": "Серебряный",
        "name_pl": "Srebrny",
        "rank": 1,
        "qualifying_points": 500,
        "earn_multiplier": Decimal("1.25"),
        "discount_percent": Decimal("5"),
        "benefits_en": "25% more points on every purchase and 5% off every reward.",
        "benefits_lt": "25 % daugiau taškų už kiekvieną pirkinį ir 5 % nuolaida kiekvienam prizui.",
        "benefits_bg": "25% повече точки за всяка покупка и 5% отстъпка от всяка награда.",
        "benefits_da": "25 % flere point på hvert køb og 5 % rabat på alle belønninger.",
        "benefits_ru": "На 25% больше баллов за каждую покупку и скидка 5% на каждую награду.",
        "benefits_pl": "25% więcej punktów za każdy zakup i 5% rabatu na każdą nagrodę.",
    },
    {
        "code": "gold",
        "name": "Gold",
        "name_lt": "Auksinis",
        "name_bg": "Злато",
        "name_da": "Guld",
        "name_ru": "Золотой",
        "name_pl": "Złoty",
        "rank": 2,
        "qualifying_points": 1500,
        "earn_multiplier": Decimal("1.5"),
        "discount_percent": Decimal("10"),
        "benefits_en": "50% more points on every purchase, 10% off every reward and early "
        "access to new rewards.",
        "benefits_lt": "50 % daugiau taškų už kiekvieną pirkinį, 10 % nuolaida kiekvienam prizui "
        "ir nauji prizai anksčiau nei kitiems.",
        "benefits_bg": "50% повече точки за всяка покупка, 10% отстъпка от всяка награда и "
        "ранен достъп до новите награди.",
        "benefits_da": "50 % flere point på hvert køb, 10 % rabat på alle belønninger og "
        "adgang til nye belønninger før alle andre.",
        "benefits_ru": "На 50% больше баллов за каждую покупку, скидка 10% на каждую награду и "
        "ранний доступ к новым наградам.",
        "benefits_pl": "50% więcej punktów za każdy zakup, 10% rabatu na każdą nagrodę i "
        "wcześniejszy dostęp do nowych nagród.",
    },
]


@dataclass
class SeedReport:
    """What one run created, by kind; empty when the demo data was already there."""

    created: Counter = field(default_factory=Counter)
    # What each kind is called in the summary (each demo module names its own).
    LABELS: ClassVar[dict[str, tuple[str, str]]] = {}

    @classmethod
    def describe(cls, **labels: tuple[str, str]) -> None:
        """Name the kinds a demo module reports: kind=(one, many)."""
        cls.LABELS.update(labels)

    def add(self, kind: str, count: int = 1) -> None:
        if count:
            self.created[kind] += count

    @property
    def changed(self) -> bool:
        return bool(self.created)

    def summary(self) -> str:
        if not self.changed:
            return "The demo data is already there; nothing was changed."
        # in the order things were first created
        parts = [
            f"{count} {self.LABELS.get(kind, (kind, kind))[count != 1]}"
            for kind, count in self.created.items()
        ]
        return "Demo data created: " + ", ".join(parts) + "."


SeedReport.describe(
    tiers=("tier", "tiers"),
    rules=("earning rule", "earning rules"),
    partners=("partner", "partners"),
    api_keys=("API key", "API keys"),
    staff=("staff user", "staff users"),
    members=("member", "members"),
    purchases=("purchase", "purchases"),
    refunds=("refund", "refunds"),
    adjustments=("points adjustment", "points adjustments"),
)


# --- the parts -----------------------------------------------------------------------------------


def seed_tiers(*, report: SeedReport) -> dict[str, Tier]:
    """Bronze, Silver and Gold, matched by code."""
    tiers = {}
    for spec in TIERS:
        defaults = {k: v for k, v in spec.items() if k != "code"}
        tier, created = Tier.objects.get_or_create(code=spec["code"], defaults=defaults)
        report.add("tiers", created)
        tiers[tier.code] = tier
    return tiers


def promotion_weekend(today: date) -> tuple[date, date]:
    """The Saturday and Sunday of a weekend about three months ago, inside the demo history."""
    day = today - timedelta(days=90)
    saturday = day - timedelta(days=(day.weekday() - 5) % 7)
    return saturday, saturday + timedelta(days=1)


def seed_rules(*, report: SeedReport, today: date) -> dict[str, EarningRule]:
    """A base rate, a better rate for coffee and a past double-points weekend, matched by name."""
    saturday, sunday = promotion_weekend(today)
    specs = {
        "base": {
            "name": "1 point per euro",
            "name_lt": "1 taškas už eurą",
            "name_bg": "1 точка за евро",
            "name_da": "1 point pr. euro",
            "name_ru": "1 балл за евро",
            "name_pl": "1 punkt za euro",
            "points_per_unit": Decimal(1),
        },
        "coffee": {
            "name": "2 points per euro on coffee",
            "name_lt": "2 taškai už eurą už kavą",
            "name_bg": "2 точки за евро за кафе",
            "name_da": "2 point pr. euro på kaffe",
            "name_ru": "2 балла за евро за кофе",
            "name_pl": "2 punkty za euro za kawę",
            "points_per_unit": Decimal(2),
            "category": COFFEE,
        },
        "promotion": {
            "name": PROMOTION_NAME,
            "name_lt": "Dvigubų taškų savaitgalis",
            "name_bg": "Уикенд с двойни точки",
            "name_da": "Weekend med dobbelte point",
            "name_ru": "Выходные с двойными баллами",
            "name_pl": "Weekend z podwójnymi punktami",
            "multiplier": Decimal(2),
            "valid_from": saturday,
            "valid_until": sunday,
        },
    }
    rules = {}
    for key, spec in specs.items():
        rule = EarningRule.objects.filter(name=spec["name"]).order_by("pk").first()
        if rule is None:
            rule = EarningRule.objects.create(**spec)
            report.add("rules")
        rules[key] = rule
    return rules


def seed_partner(*, report: SeedReport) -> Partner:
    """The partner "Demo Shop" with the published demo API key."""
    partner = Partner.objects.filter(name__iexact=PARTNER_NAME).first()
    if partner is None:
        partner = account_services.partner_create(name=PARTNER_NAME, currency=PARTNER_CURRENCY)
        report.add("partners")
    digest = account_services.hash_api_key(PARTNER_API_KEY)
    if not PartnerApiKey.objects.filter(digest=digest).exists():
        account_services.api_key_create(
            partner=partner, name=PARTNER_API_KEY_NAME, raw_key=PARTNER_API_KEY
        )
        report.add("api_keys")
    return partner


# The demo member joined this many years ago to the day: the worker's first anniversary run
# (at start in the demo: loyalty/core/startup.py) thanks her on the day `make run` is first run.
MEMBER_YEARS = 2


def member_joined_on(today: date) -> date:
    return today - relativedelta(years=MEMBER_YEARS)


def seed_people(*, report: SeedReport, today: date) -> tuple[User, Member]:
    """A staff superuser and the demo member Ona, who joined two years ago today (her welcome
    gift dated that morning)."""
    staff = User.objects.filter(email__iexact=STAFF_EMAIL).first()
    if staff is None:
        # No service owns staff accounts; this is what `createsuperuser` does.
        staff = User.objects.create_superuser(
            email=STAFF_EMAIL, password=STAFF_PASSWORD, first_name="Demo", last_name="Staff"
        )
        report.add("staff")
    member = Member.objects.select_related("user").filter(user__email__iexact=MEMBER_EMAIL).first()
    if member is None:
        member = member_enroll(
            email=MEMBER_EMAIL,
            password=MEMBER_PASSWORD,
            first_name="Ona",
            last_name="Jonaitė",
            language="en",
            birthday="1990-05-14",
            joined_on=member_joined_on(today),
            at=_joining_moment(member_joined_on(today)),
        )
        report.add("members")
    return staff, member


# --- the member's year -------------------------------------------------------------------------


@dataclass(frozen=True)
class _PlannedPurchase:
    at: datetime
    amount: Decimal
    lines: list[dict] | None


def _cents(rng: random.Random, low: int, high: int) -> Decimal:
    return Decimal(rng.randint(low, high)) / 100


def _joining_moment(day: date) -> datetime:
    """When the demo member joined: the morning of her joining day, before any purchase."""
    return timezone.make_aware(datetime.combine(day, time(8)))


# Her first year, before the year of history: (days ago, amount). Points expire after 24
# months, so the 705-day-old purchase's points expire in about 25 days: the expiry job tells her
# (LOYALTY_EXPIRY_NOTICE_DAYS) on the demo's first day.
FIRST_YEAR = ((705, Decimal("186.40")), (640, Decimal("42.15")), (520, Decimal("27.80")))


def _moment(day: date, rng: random.Random) -> datetime:
    """A shop-hours moment of a local day (never in a DST gap, which falls at night)."""
    return timezone.make_aware(datetime.combine(day, time(rng.randint(8, 19), rng.randint(0, 59))))


def plan_purchases(
    *, today: date, rng: random.Random, promotion_day: date | None = None
) -> list[_PlannedPurchase]:
    """About 30 purchases, one in each slice of the last twelve months, oldest first.

    Slicing the year (instead of drawing freely) spreads the history over every month. When a
    promotion day lies in the year, the purchase nearest to it moves onto it, so the history
    shows a promotion at work.
    """
    count = rng.randint(30, 36)
    first, last = 362, 2  # days ago
    width = (first - last) / count
    days = [
        today - timedelta(days=round(first - i * width - rng.uniform(0, width - 1)))
        for i in range(count)
    ]
    if promotion_day is not None and days[0] <= promotion_day <= days[-1]:
        nearest = min(range(count), key=lambda i: abs((days[i] - promotion_day).days))
        days[nearest] = promotion_day
    planned = []
    for day in days:
        if rng.random() < 0.45:
            coffee = _cents(rng, 250, 1600)
            other = _cents(rng, 300, 4500)
            lines = [
                {
                    "sku": rng.choice(["ESPRESSO", "CAPPUCCINO", "LATTE", "BEANS-250G"]),
                    "quantity": rng.randint(1, 3),
                    "amount": coffee,
                    "category": COFFEE,
                },
                {
                    "sku": rng.choice(["CROISSANT", "SOURDOUGH", "GROCERIES", "TEA"]),
                    "quantity": 1,
                    "amount": other,
                    "category": "food",
                },
            ]
            planned.append(_PlannedPurchase(_moment(day, rng), coffee + other, lines))
        else:
            planned.append(_PlannedPurchase(_moment(day, rng), _cents(rng, 500, 6000), None))
    planned.sort(key=lambda p: p.at)
    return planned


def seed_history(
    *,
    report: SeedReport,
    member: Member,
    partner: Partner,
    staff: User,
    now: datetime,
    promotion_day: date | None = None,
) -> None:
    """A few purchases in her first year, then a year of them (some with coffee), one refund
    and one staff adjustment.

    Everything is recorded through the services with `at` set to the past moment, in time
    order, so balances, lots, expiry dates and tier upgrades are what they would have been.
    Skipped when the member already has purchases at the demo partner.
    """
    if Purchase.objects.filter(member=member, partner=partner).exists():
        return
    rng = random.Random(HISTORY_SEED)
    today = timezone.localdate(now)
    planned = plan_purchases(today=today, rng=rng, promotion_day=promotion_day)
    adjust_at = _moment(today - timedelta(days=100), rng)

    # (when, order on a tie, what): purchases, the refund and the adjustment in time order.
    early = [
        _PlannedPurchase(_moment(today - timedelta(days=days), rng), amount, None)
        for days, amount in FIRST_YEAR
    ]
    planned = [p for p in early if p.at.date() > member.joined_on] + planned
    refunded = len(planned) // 2
    refund_at = planned[refunded].at + timedelta(days=3)
    events: list[tuple[datetime, int, str, int]] = [
        (p.at, 0, "purchase", i) for i, p in enumerate(planned)
    ]
    events += [(refund_at, 1, "refund", refunded), (adjust_at, 2, "adjust", 0)]
    events.sort()
    purchases: dict[int, Purchase] = {}
    for at, _order, kind, index in events:
        if kind == "purchase":
            plan = planned[index]
            result = purchase_record(
                partner=partner,
                member=member,
                external_id=f"DEMO-{index + 1:04d}",
                amount=plan.amount,
                currency=partner.currency,
                lines=plan.lines,
                occurred_at=plan.at,
                at=plan.at,
            )
            purchases[index] = result.purchase
            report.add("purchases")
        elif kind == "refund":
            purchase_refund(purchase=purchases[index], external_id=f"DEMO-R-{index + 1:04d}", at=at)
            report.add("refunds")
        else:
            points_adjust(
                member=member,
                points=50,
                staff_user=staff,
                reason="Points for a purchase made while the till was offline (paper receipt).",
                at=at,
            )
            report.add("adjustments")
