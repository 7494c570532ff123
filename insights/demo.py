"""`manage.py seed_crowd` (after seed_demo, as `make run` does): a crowd of members on every rung
of the ladder for the staff dashboard, a year of nightly runs (so the ladder's flow has a
history), a year of quarterly survey answers, and a win-back campaign sent 45 days ago to the
members then at risk or lapsed, with a holdout, which brought more of them back than came back
without it. Everything goes through the
services, dated in the past where it happened. Kept apart from seed_demo, whose one member's
year stays small and exact."""

from __future__ import annotations

import contextlib
import random
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from dateutil.relativedelta import relativedelta
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Member, Partner, User
from feedback.models import FeedbackItem, SurveyResponse
from feedback.services import feedback_file
from feedback.surveys import survey_answer, survey_invite
from loyalty.base.errors import InvalidInput, LoyaltyError
from loyalty.core.demo import PARTNER_NAME, STAFF_EMAIL, SeedReport
from loyalty.core.enrolment import member_enroll
from loyalty.core.jobs import job_run
from loyalty.core.purchases import purchase_record
from referrals.models import ReferralCode
from rewards.models import Reward
from rewards.services import reward_redeem

from . import campaigns, figures, ladder, services
from .models import Campaign, CampaignMember, Rung

SEED = 16
CROWD_EMAIL = "crowd{n}@example.com"
CAMPAIGN_DAYS_AGO = 45
LANGS = ("en", "lt", "bg", "da", "ru", "pl")
FIRST_NAMES = (
    "Aistė",
    "Boris",
    "Dorthe",
    "Jonas",
    "Kasia",
    "Mila",
    "Nils",
    "Olga",
    "Piotr",
    "Rūta",
)

SeedReport.describe(crowd=("crowd member", "crowd members"), campaigns=("campaign", "campaigns"))

# How each part of the crowd buys: (how many, gap in days, purchases, days since the last).
CROWD = {
    "prospect": (5, 0, 0, 0),
    "first_time": (5, 0, 1, 12),
    "repeat": (6, 50, 3, 10),
    "loyal": (8, 30, 13, 6),
    "advocate": (2, 28, 13, 4),
    "at_risk": (8, 18, 10, 75),
    "winback": (20, 18, 8, 100),  # at risk when the campaign went out
    "lapsed": (3, 30, 5, 420),
    "long_gone": (3, 30, 4, 800),  # their points expired
}


def _noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=timezone.get_default_timezone())


class _Buyer:
    def __init__(self, partner: Partner, rng: random.Random):
        self.partner, self.rng, self.count = partner, rng, 0

    def buy(self, member: Member, day: date) -> None:
        self.count += 1
        moment = _noon(day)
        purchase_record(
            partner=self.partner,
            member=member,
            external_id=f"DEMO-CROWD-{self.count:05d}",
            amount=Decimal(self.rng.randrange(1500, 9000)) / 100,
            currency=self.partner.currency,
            occurred_at=moment,
            at=moment,
        )


def _enroll(n: int, rng: random.Random, joined_on: date, **kwargs) -> Member:
    return member_enroll(
        email=CROWD_EMAIL.format(n=n),
        first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
        language=LANGS[n % len(LANGS)],
        joined_on=joined_on,
        at=_noon(joined_on) - timedelta(hours=3),  # the welcome gift, the morning they joined
        **kwargs,
    )


def seed_crowd(*, now: datetime | None = None) -> SeedReport:
    """The crowd, in one transaction; skipped when it is there already. Needs seed_demo's
    partner and staff user (InvalidInput without them)."""
    report = SeedReport()
    partner = Partner.objects.filter(name__iexact=PARTNER_NAME).first()
    staff = User.objects.filter(email__iexact=STAFF_EMAIL).first()
    if partner is None or staff is None:
        raise InvalidInput(_("Run seed_demo first: the crowd shops at its partner."))
    if Member.objects.filter(user__email__iexact=CROWD_EMAIL.format(n=1)).exists():
        return report
    with transaction.atomic():
        _seed(report, partner, staff, now or timezone.now())
    return report


def _seed(report: SeedReport, partner: Partner, staff: User, now: datetime) -> None:
    rng = random.Random(SEED)
    today = timezone.localdate(now)
    launch_day = today - timedelta(days=CAMPAIGN_DAYS_AGO)
    buyer = _Buyer(partner, rng)
    people: dict[str, list[Member]] = {}
    n = 0
    for rung, (count, gap, purchases, since) in CROWD.items():
        for _k in range(count):
            n += 1
            last = today - timedelta(days=since + rng.randrange(0, 4))
            first = last - timedelta(days=gap * max(purchases - 1, 0))
            joined = min(first, today - timedelta(days=rng.randrange(20, 60))) - timedelta(days=5)
            member = _enroll(n, rng, joined)
            people.setdefault(rung, []).append(member)
            for p in range(purchases):
                buyer.buy(member, first + timedelta(days=gap * p))
    report.add("crowd", n)
    # the loyal spend their points on the cheapest reward now and then
    reward = Reward.objects.filter(is_active=True).order_by("points_cost").first()
    if reward is not None:
        for member in people["loyal"] + people["advocate"]:
            for days in (200, 90, 20):
                with contextlib.suppress(LoyaltyError):
                    reward_redeem(
                        member=member, reward=reward, at=_noon(today - timedelta(days=days))
                    )
    # a year of quarterly survey answers from the loyal, for the admin's charts
    for member, (days_ago, would_tell, recommend) in zip(
        people["loyal"], ((300, 3, 7), (210, 4, 8), (120, 4, 9)), strict=False
    ):
        at = _noon(today - timedelta(days=days_ago))
        if survey_invite(member=member, trigger=SurveyResponse.Trigger.PURCHASE, at=at):
            survey_answer(member=member, would_tell=would_tell, recommend=recommend, at=at)
    # the advocates brought friends who became customers
    for advocate in people["advocate"]:
        n += 1
        code = ReferralCode.objects.get(member=advocate).code
        friend = _enroll(n, rng, today - timedelta(days=40), referral_code=code)
        buyer.buy(friend, today - timedelta(days=30))
    # a complaint waiting past its deadline, from a member at risk
    feedback_file(
        member=people["at_risk"][0],
        kind=FeedbackItem.Kind.COMPLAINT,
        category=FeedbackItem.Category.SERVICE,
        text="The self-service till refused my card twice and nobody came to help.",
        at=_noon(today - timedelta(days=6)),
    )
    # the long gone's points expire today
    job_run(name="expiry", day=today)
    # a year of nightly runs up to the campaign, then the campaign
    for months in range(12, 1, -1):
        ladder.ladder_compute(day=today - relativedelta(months=months))
    ladder.ladder_compute(day=launch_day)
    _seed_campaign(report, staff, rng, buyer, launch_day)
    ladder.ladder_compute(day=today - relativedelta(months=1))
    ladder.ladder_compute(day=today)
    figures.snapshot_compute(day=today)
    services.outreach_record(
        member=people["at_risk"][0],
        staff=staff,
        note="Called about the till; she will give us another try. Offered help with the app.",
    )


def _seed_campaign(report, staff, rng, buyer: _Buyer, launch_day: date) -> None:
    fields = {
        "subject_en": "We miss you",
        "subject_lt": "Mes jūsų pasiilgome",
        "subject_bg": "Липсвате ни",
        "subject_da": "Vi savner dig",
        "subject_ru": "Мы скучаем по вам",
        "subject_pl": "Tęsknimy za Tobą",
        "card_en": "It has been a while. Here are 150 points to welcome you back.",
        "card_lt": "Seniai jūsų nematėme. Štai 150 taškų, kad sugrįžtumėte.",
        "card_bg": "Отдавна не сте идвали. Ето 150 точки за добре дошли отново.",
        "card_da": "Det er et stykke tid siden. Her er 150 point, så du føler dig velkommen igen.",
        "card_ru": "Давно вас не было. Вот 150 баллов, чтобы вы вернулись.",
        "card_pl": "Dawno Cię nie było. Oto 150 punktów na powitanie.",
    }
    campaign = services.campaign_save(
        campaign=Campaign(
            name="Win-back, autumn",
            segment={"rungs": [Rung.AT_RISK, Rung.LAPSED]},
            offer=Campaign.Offer.POINTS,
            points=150,
            holdout_percent=25,
            reactivation_days=30,
            **fields,
        ),
        staff=staff,
    )
    launched_at = _noon(launch_day)
    campaigns.campaign_launch(
        campaign=campaign, staff=staff, chooser=rng, at=launched_at, start_sending=False
    )
    rows = list(CampaignMember.objects.filter(campaign=campaign).order_by("pk"))
    campaigns.campaign_send_batch(
        ids=[r.pk for r in rows if not r.holdout], day=launch_day, at=launched_at
    )
    report.add("campaigns")
    # more of those who got the offer came back than of those held out
    for row in rows:
        chance = 0.25 if row.holdout else 0.55
        if rng.random() < chance:
            buyer.buy(
                Member.objects.get(pk=row.member_id),
                launch_day + timedelta(days=rng.randrange(2, 28)),
            )
