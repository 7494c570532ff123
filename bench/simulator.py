"""Benchmark: the rule simulator (insights.simulator) over a year of purchases.

What it does, in process and only on 127.0.0.1:

1. The database `loyalty_bench_simulator` on the DATABASE_URL server (default
   postgres://postgres@127.0.0.1:5432), created if missing (--fresh drops it first), migrated,
   and filled once with --members members, --purchases purchases over the last 360 days at
   --partners partners, each with one to three lines in five categories, and a tier change for
   one member in ten (written with bulk_create: a benchmark's data, not the ledger's story).
2. Three simulations, each timed (wall and this process's CPU) with its peak memory: a rate
   change on one category (coffee 2 → 3 points a euro), the same without the shortcut that
   calculates an untouched purchase once, and a tier threshold change (every member looked at).
3. Prints purchases replayed per second; appends to bench/RESULTS.md unless --no-results.

Usage: `.venv/bin/python bench/simulator.py [--members N] [--purchases N] [--fresh]`.
"""
# ruff: noqa: T201 - a benchmark reports on stdout

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit

from _shared import (
    DEFAULT_SERVER_URL,
    add_common_options,
    append_results,
    database_url,
    django_env,
    ensure_database,
    is_loopback,
    is_postgres,
    luhn_check_digit,
    machine,
    parse_known,
    setup_django,
)

BENCH_DB = "loyalty_bench_simulator"
CATEGORIES = ["coffee", "food", "drinks", "home", ""]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="The rule simulator over a year of purchases.")
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--purchases", type=int, default=200_000)
    parser.add_argument("--partners", type=int, default=5)
    add_common_options(parser, fresh="drop the database and build it again")
    return parse_known(parser, argv, name="simulator")


def configure(args) -> None:
    server = os.environ.get("DATABASE_URL", DEFAULT_SERVER_URL)
    if not (is_postgres(server) and is_loopback(server)):
        sys.exit(f"Refusing to benchmark against {urlsplit(server).hostname!r}: only 127.0.0.1.")
    ensure_database(server, BENCH_DB, fresh=args.fresh)
    setup_django(django_env(database_url(server, BENCH_DB), LOG_LEVEL="WARNING"))
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def fill(args) -> None:
    """The year of purchases, once (a database already filled is used as it is), in one
    transaction (a fill cut short leaves nothing)."""
    from django.db import connection, transaction

    with transaction.atomic():
        filled = _fill(args)
    if filled:
        with connection.cursor() as cursor:  # the planner's statistics, as autovacuum would
            cursor.execute("ANALYZE")


def _fill(args) -> bool:
    from accounts.models import Member, Partner, User
    from loyalty.core.models import EarningRule, Purchase, PurchaseLine, Tier, TierChange

    if Purchase.objects.exists():
        print(f"Using the {Purchase.objects.count():,} purchases already in {BENCH_DB}.")
        return False
    started = time.monotonic()
    rng = random.Random(18)
    tiers = [
        Tier.objects.create(code="bronze", name="Bronze", rank=0),
        Tier.objects.create(
            code="silver", name="Silver", rank=1, qualifying_points=500, earn_multiplier="1.25"
        ),
        Tier.objects.create(
            code="gold", name="Gold", rank=2, qualifying_points=1500, earn_multiplier="1.5"
        ),
    ]
    partners = [
        Partner.objects.create(name=f"Shop {i}", currency="EUR") for i in range(args.partners)
    ]
    EarningRule.objects.create(name="1 point per euro", points_per_unit=1)
    EarningRule.objects.create(name="Coffee", points_per_unit=2, category="coffee")
    EarningRule.objects.create(name="Home ×2", multiplier=2, category="home", min_amount=50)
    users = User.objects.bulk_create(
        User(email=f"bench-{i}@example.com", password="!") for i in range(args.members)
    )
    members = Member.objects.bulk_create(
        (
            Member(
                user=user,
                member_number=f"{10_000_000 + i}{luhn_check_digit(str(10_000_000 + i))}",
                tier=rng.choice(tiers),
                joined_on=date(2024, 1, 1),
            )
            for i, user in enumerate(users)
        ),
        batch_size=5000,
    )
    now = datetime.now(UTC)
    TierChange.objects.bulk_create(
        TierChange(
            member=m,
            from_tier=tiers[0],
            to_tier=m.tier,
            qualifying_points=600,
            reason="upgrade",
            created_at=now - timedelta(days=rng.randint(1, 360)),
        )
        for m in members[::10]
    )
    batch = 5000
    for start in range(0, args.purchases, batch):
        purchases, lines = [], []
        for i in range(start, min(start + batch, args.purchases)):
            at = now - timedelta(seconds=rng.randint(60, 360 * 86400))
            amounts = [Decimal(rng.randint(100, 6000)) / 100 for _ in range(rng.randint(1, 3))]
            purchase = Purchase(
                partner=rng.choice(partners),
                external_id=f"B-{i}",
                member=rng.choice(members),
                amount=sum(amounts),
                currency="EUR",
                occurred_at=at,
                created_at=at,
            )
            purchases.append(purchase)
            lines.append(amounts)
        Purchase.objects.bulk_create(purchases)
        PurchaseLine.objects.bulk_create(
            PurchaseLine(
                purchase=p,
                member_id=p.member_id,
                sku="SKU",
                amount=a,
                category=rng.choice(CATEGORIES),
            )
            for p, amounts in zip(purchases, lines, strict=True)
            for a in amounts
        )
    print(f"Filled {BENCH_DB} in {time.monotonic() - started:.0f} s.")
    return True


def timed(label: str, draft, *, shortcut: bool = True) -> dict:
    from insights import simulator

    cpu = time.process_time()
    started = time.perf_counter()
    result = simulator.simulate(
        kind=draft.kind, rule_id=draft.rule_id, changes=draft.changes, shortcut=shortcut
    )
    wall = time.perf_counter() - started
    figures = {
        "label": label,
        "wall": wall,
        "cpu": time.process_time() - cpu,
        "purchases": result["purchases"],
        "rate": result["purchases"] / wall,
        "considered": result["tiers"]["considered"],
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print(
        f"  {label:<44}{wall:>8.1f} s{figures['cpu']:>8.1f} s cpu{figures['rate']:>10,.0f}/s"
        f"{figures['considered']:>9,} members{figures['rss']:>8.0f} MB"
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    configure(args)
    fill(args)
    from insights.draft_models import RuleDraft
    from insights.drafts import rule_changes, tier_changes
    from loyalty.core.models import EarningRule, Tier

    coffee = EarningRule.objects.get(name="Coffee")
    values = {name: getattr(coffee, name) for name in ("name", "is_active", "category")}
    values.update(
        points_per_unit=Decimal(3),
        multiplier=None,
        min_amount=None,
        partner=None,
        valid_from=None,
        valid_until=None,
    )
    rate = RuleDraft(kind="rule", rule=coffee, changes=rule_changes(coffee, values))
    tiers = list(Tier.objects.order_by("rank"))
    silver = tiers[1]
    threshold = RuleDraft(
        kind="tiers", changes=tier_changes(tiers, {silver.pk: {"qualifying_points": 400}})
    )
    print(f"\n{machine()}\n")
    rows = [
        timed("coffee 2 → 3 points a euro", rate),
        timed("the same, every purchase calculated twice", rate, shortcut=False),
        timed("Silver from 400 points (every member)", threshold),
    ]
    if not args.no_results:
        lines = [
            f"## simulator: the rule simulator ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC)",
            "",
            f"Machine: {machine()}, PostgreSQL. Command: `bench/simulator.py --members "
            f"{args.members} --purchases {args.purchases}` (in process, one connection).",
            "",
            "| draft | wall s | CPU s | purchases/s | members looked at | peak MB |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {r['label']} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rate']:,.0f} | "
            f"{r['considered']:,} | {r['rss']:.0f} |"
            for r in rows
        ]
        append_results("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
