"""`python manage.py seed_demo`: the whole demo, every floor's part of it in one transaction,
and what the command prints (where to log in, as whom, how to call the API). Never run it in
production. The parts live with their apps: loyalty/core/demo.py (tiers, rules, the partner, the
people and a year of history), rewards/demo.py, feedback/demo.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import Member, Partner, User
from feedback import demo as feedback_demo
from loyalty.core import demo as core_demo
from loyalty.core import hooks
from loyalty.core.jobs import job_run
from loyalty.core.models import JobRun
from rewards import demo as rewards_demo
from rewards.models import Reward, Voucher

core_demo.SeedReport.describe(job_runs=("past job run", "past job runs"))

SITE_URL = "http://127.0.0.1:8000/"
ADMIN_URL = f"{SITE_URL}admin/"
API_EXAMPLE_URL = f"{SITE_URL}api/v1/members/{{member_number}}/"


@dataclass
class DemoData:
    report: core_demo.SeedReport
    partner: Partner
    api_key: str
    staff: User
    member: Member
    rewards: list[Reward] = field(default_factory=list)
    voucher: Voucher | None = None


def seed_demo(*, now: datetime | None = None) -> DemoData:
    """Add whatever demo data is missing, in one transaction; a second run changes nothing."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    report = core_demo.SeedReport()
    with transaction.atomic():
        tiers = core_demo.seed_tiers(report=report)
        rules = core_demo.seed_rules(report=report, today=today)
        partner = core_demo.seed_partner(report=report)
        staff, member = core_demo.seed_people(report=report, today=today)
        promotion = rules.get("promotion")
        core_demo.seed_history(
            report=report,
            member=member,
            partner=partner,
            staff=staff,
            now=now,
            promotion_day=promotion.valid_from if promotion else None,
        )
        rewards = rewards_demo.seed_rewards(report=report, tiers=tiers, member=member, now=now)
        feedback_demo.seed_feedback(
            report=report, member=member, staff=staff, partner=partner, now=now
        )
        seed_job_history(report=report, today=today)
        member.refresh_from_db()
    voucher = (
        Voucher.objects.filter(redemption__member=member, status=Voucher.Status.ISSUED)
        .select_related("redemption__reward")
        .first()
    )
    return DemoData(
        report=report,
        partner=partner,
        api_key=core_demo.PARTNER_API_KEY,
        staff=staff,
        member=member,
        rewards=list(rewards.values()),
        voucher=voucher,
    )


def seed_job_history(*, report: core_demo.SeedReport, today) -> None:
    """Run each catch-up job (anniversary, birthdays) once by hand for yesterday, when none of
    its runs is on record: a real run of the demo's past night, which pays what fell due in its
    window. Being the first, it says so (the log, and an e-mail to the staff); the worker's run
    of today then follows a completed run and covers today, so it pays the demo member's
    anniversary without a false alarm."""
    for name, job in hooks.jobs().items():
        if not job.catch_up or JobRun.objects.filter(name=name).exists():
            continue
        job_run(name=name, day=today - timedelta(days=1))
        report.add("job_runs")


def _reward_lines(demo: DemoData) -> list[str]:
    """The demo catalogue, one reward a line, and the demo member's voucher."""
    lines = []
    for reward in demo.rewards:
        label = "" if lines else "Rewards:"
        tier = f", {reward.min_tier.name} and above" if reward.min_tier else ""
        lines.append(f"{label:<15}{reward.name_en} ({reward.points_cost} points{tier})")
    if demo.voucher is not None:
        voucher = demo.voucher
        lines.append(
            f"{'':<15}the demo member holds voucher {voucher.display_code} "
            f"({voucher.redemption.reward.name_en}, valid until {voucher.expires_on})"
        )
    return lines


def login_lines(demo: DemoData) -> list[str]:
    """What the command prints: where to log in, as whom, and how to call the API."""
    member = demo.member
    tier = f", {member.tier.name}" if member.tier else ""
    api_url = API_EXAMPLE_URL.format(member_number=member.member_number)
    return [
        demo.report.summary(),
        "",
        f"Site:          {SITE_URL}",
        f"Staff admin:   {ADMIN_URL}  log in as "
        f"{core_demo.STAFF_EMAIL} / {core_demo.STAFF_PASSWORD}",
        f"Demo member:   {core_demo.MEMBER_EMAIL} / {core_demo.MEMBER_PASSWORD}  "
        f"(member number {member.member_number}{tier}, {member.points_balance} points)",
        *_reward_lines(demo),
        f"Partner API:   {demo.partner.name}, API key {demo.api_key}",
        "               (a published demo key: never use it outside the demo)",
        f'  curl -H "Authorization: Api-Key {demo.api_key}" {api_url}',
    ]


DASHBOARD_PATH = "admin/insights/memberinsight/dashboard/"


def login_box(*, site_url: str = SITE_URL) -> list[str]:
    """The demo's logins and links in a short box, read from the database (no writes): what
    `make run` prints last. Empty before seed_demo has run."""
    member = (
        Member.objects.select_related("user")
        .filter(user__email__iexact=core_demo.MEMBER_EMAIL)
        .first()
    )
    if member is None:
        return []
    site = site_url.rstrip("/") + "/"
    rows = [
        f"Loyalty demo   {site}",
        f"Member         {core_demo.MEMBER_EMAIL} / {core_demo.MEMBER_PASSWORD}"
        f"  (no. {member.member_number})",
        f"Staff          {site}admin/  {core_demo.STAFF_EMAIL} / {core_demo.STAFF_PASSWORD}",
        f"Dashboard      {site}{DASHBOARD_PATH}",
        f"API key        {core_demo.PARTNER_API_KEY}  (demo only)",
    ]
    width = max(len(row) for row in rows)
    rule = "+" + "-" * (width + 2) + "+"
    return [rule, *(f"| {row:<{width}} |" for row in rows), rule]
