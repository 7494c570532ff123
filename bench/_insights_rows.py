"""The rows of bench/_insights_data.py's dataset: three years of a million members' history.

What generate() writes, over the three years before day D (2026-12-01), with one point per euro
and points expiring 24 months after the local day they were earned (the tiers, partners and
rewards it names are inserted before, with ids 1..n):

- Users and members who joined at random times of the three years (member ids grow with the day
  they joined); each got the welcome gift (a `gift` entry whose cause is the member, as
  member_enroll writes it) with its lot.
- Each member's purchases follow a rhythm of their own: a median gap of 7 to 120 days (log-
  uniform), about monthly for the loyal (15 %), and stopped more than eight months before D for
  the lapsed (18 %); prospects (8 %) never bought. Each purchase is a `loyalty_purchase` row and
  an `earn` entry pointing at it, with its lot. About 20 entries a member in all.
- Some members redeem rewards as their balance allows: a redemption, its voucher and a `spend`
  entry whose cause is the redemption, taken from the soonest-expiring lots (lot movements).
- Lots due before D expired the way the daily job does it: an `expire` entry per lot whose
  cause is the lot, its movement, and the lot's remaining at 0.
- balance_after runs entry by entry; every balance equals the sum of its entries and of its
  open lots' remainders; the tier follows the last 365 days' qualifying points, and about 3 % of
  the members below Gold are one tier up in its grace (tier_grace_until).

Rows are tab-separated text for COPY, in a spool folder, a file per table, month and process
(one process per core), so that the files loaded month by month lay the heap out in time order
as a real ledger's is: a member's rows lie apart, not side by side, and a job that reads them
pays what it would in production. A row's id is (month × processes + process) × ROOM + n: ids
grow with time too, with gaps; nothing here needs the database.
"""

from __future__ import annotations

import math
import random
from collections import Counter, deque
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from _jobs_seed import TIERS
from _shared import luhn_check_digit
from dateutil.relativedelta import relativedelta

TODAY = date(2026, 12, 1)  # day D: the history ends the day before
START = TODAY - relativedelta(years=3)
N_DAYS = (TODAY - START).days
N_MONTHS = 37
TZ = ZoneInfo("Europe/Vilnius")  # the project's TIME_ZONE
EXPIRY_MONTHS = 24
WELCOME_POINTS = 50
PROCESSES = 2
ROOM = 4_000_000  # ids a process may hand out in one month, per table
PARTNERS = ["Bench Grocer", "Bench Cafe", "Bench Books", "Bench Web Shop"]
# slug, name, kind, value, points cost
REWARDS = [
    ("bench-coffee", "A coffee", "free_item", None, 250),
    ("bench-5-off", "5 EUR off", "amount_off", "5.00", 500),
    ("bench-12-off", "12 EUR off", "amount_off", "12.00", 1000),
    ("bench-evening", "Members' evening", "event", None, 2500),
]
LANGUAGES = ["en", "lt", "bg", "da", "ru", "pl"]
# The tables the generator fills, in load order, with the columns of its rows.
COLUMNS = {
    "accounts_user": "id, password, is_superuser, email, first_name, last_name, is_staff, "
    "is_active, date_joined, language",
    "accounts_member": "id, user_id, member_number, joined_on, birthday_month, birthday_day, "
    "birthday_year, birthday_set_on, language, status, status_reason, delight, email_messages, "
    "email_offers, points_balance, tier_id, tier_since, tier_grace_until, created_at",
    "loyalty_purchase": "id, partner_id, external_id, member_id, amount, currency, occurred_at, "
    "points_earned, explanation, created_at",
    "loyalty_ledgerentry": "id, member_id, kind, points, balance_after, description, "
    "purchase_id, cause_type_id, cause_id, reason, created_at",
    "loyalty_pointlot": "id, member_id, entry_id, points, remaining, earned_at, expires_on",
    "loyalty_lotmovement": "id, member_id, entry_id, lot_id, points",
    "rewards_redemption": "id, member_id, reward_id, partner_id, points_spent, discount_percent, "
    "took_stock, spend_entry_id, status, cancel_reason, created_at",
    "rewards_voucher": "id, member_id, redemption_id, code, status, expires_on, used_at, "
    "used_by_id, created_at",
}
TABLES = list(COLUMNS)


class _Member:
    """One member's history as it is written: the balance, the open lots (oldest first, so
    soonest-expiring first: every lot lives EXPIRY_MONTHS), every lot (written last, with what
    remains of it)."""

    __slots__ = ("id", "balance", "open", "lots")

    def __init__(self, pk: int):
        self.id, self.balance, self.open, self.lots = pk, 0, deque(), []


def generate(proc: int, members: int, spool: str, refs: dict) -> dict:
    """Write the rows of this process's members (a contiguous share of the ids) into the spool:
    `table.MM.P` files, month MM of the history, process P. Returns the rows per table."""
    rng = random.Random(20261201 * 10 + proc)
    member_ct, lot_ct, redemption_ct = refs["member"], refs["pointlot"], refs["redemption"]
    days = [START + timedelta(days=n) for n in range(N_DAYS)]
    iso = [d.isoformat() for d in days]
    offset = [datetime(d.year, d.month, d.day, 12, tzinfo=TZ).strftime("%z") for d in days]
    month = [(d.year - START.year) * 12 + d.month - START.month for d in days]
    expires = [d + relativedelta(months=EXPIRY_MONTHS) for d in days]
    expires_iso = [d.isoformat() for d in expires]
    expires_day = [(d - START).days for d in expires]
    clock = [f"{m // 60:02d}:{m % 60:02d}:00" for m in range(1440)]
    files: dict[tuple[str, int], object] = {}
    used = {table: [0] * N_MONTHS for table in TABLES}
    rows = Counter()

    def write(table: str, m: int, row: str) -> None:
        out = files.get((table, m))
        if out is None:
            out = files[table, m] = open(  # noqa: SIM115 - closed after the loop
                Path(spool) / f"{table}.{m:02d}.{proc}", "w", buffering=1 << 18
            )
        out.write(row)
        rows[table] += 1

    def new_id(table: str, m: int) -> int:
        n = used[table][m]
        used[table][m] = n + 1
        return (m * PROCESSES + proc) * ROOM + n + 1

    def at(d: int, minute: int) -> str:
        return f"{iso[d]} {clock[minute]}{offset[d]}"

    def entry(who, d, minute, kind, points, description, purchase, cause_type, cause) -> int:
        pk = new_id("loyalty_ledgerentry", month[d])
        write(
            "loyalty_ledgerentry",
            month[d],
            f"{pk}\t{who.id}\t{kind}\t{points}\t"
            f"{who.balance}\t{description}\t{purchase}\t{cause_type}\t{cause}\t\t"
            f"{at(d, minute)}\n",
        )
        return pk

    def credit(who, d, minute, kind, points, description, purchase, cause_type, cause) -> None:
        who.balance += points
        pk = entry(who, d, minute, kind, points, description, purchase, cause_type, cause)
        lot = [new_id("loyalty_pointlot", month[d]), pk, points, points, d, minute]
        who.open.append(lot)
        who.lots.append(lot)

    def take(who, d: int, entry_pk: int, points: int) -> None:
        """Movements of a debit's points out of the soonest-expiring lots (a lot is
        [id, entry, points, remaining, day, minute])."""
        while points:
            lot = who.open[0]
            taken = min(points, lot[3])
            lot[3] -= taken
            points -= taken
            if not lot[3]:
                who.open.popleft()
            pk = new_id("loyalty_lotmovement", month[d])
            write(
                "loyalty_lotmovement", month[d], f"{pk}\t{who.id}\t{entry_pk}\t{lot[0]}\t{-taken}\n"
            )

    def expire(who, until: int) -> None:
        """What remains of the lots due on or before day `until` expires, as the daily job
        does it (at 03:00-03:30 on the due day, one time for a batch of members): an entry
        per lot, whose cause is the lot."""
        while who.open and expires_day[who.open[0][4]] <= until:
            lot = who.open[0]
            d, remaining = expires_day[lot[4]], lot[3]
            who.balance -= remaining
            pk = entry(
                who,
                d,
                180 + who.id // 1000 % 30,
                "expire",
                -remaining,
                f"Expired on {expires_iso[lot[4]]}",
                r"\N",
                lot_ct,
                lot[0],
            )
            take(who, d, pk, remaining)

    def redeem(who, d: int, minute: int, partner: int) -> None:
        reward = max(r for r in range(len(REWARDS)) if REWARDS[r][4] <= who.balance)
        reward = rng.randint(0, reward)
        _slug, name, _kind, _value, cost = REWARDS[reward]
        pk = new_id("rewards_redemption", month[d])
        who.balance -= cost
        entry_pk = entry(who, d, minute, "spend", -cost, name, r"\N", redemption_ct, pk)
        take(who, d, entry_pk, cost)
        till = partner if rng.random() < 0.5 else r"\N"
        write(
            "rewards_redemption",
            month[d],
            f"{pk}\t{who.id}\t{reward + 1}\t{till}\t{cost}\t"
            f"0\tf\t{entry_pk}\tactive\t\t{at(d, minute)}\n",
        )
        # The voucher: used at the till 1 to 7 days later (90 %), else left to lapse unused.
        used_day = d + rng.randint(1, 7)
        valid_until = (days[d] + timedelta(days=30)).isoformat()
        if used_day < N_DAYS and rng.random() < 0.9:
            status, used_at, used_by = "used", at(used_day, rng.randrange(480, 1260)), partner
        else:
            lapsed = valid_until < TODAY.isoformat()
            status, used_at, used_by = ("expired" if lapsed else "issued"), r"\N", r"\N"
        voucher = new_id("rewards_voucher", month[d])
        write(
            "rewards_voucher",
            month[d],
            f"{voucher}\t{who.id}\t{pk}\tB{voucher:012d}\t{status}\t"
            f"{valid_until}\t{used_at}\t{used_by}\t{at(d, minute)}\n",
        )

    share = math.ceil(members / PROCESSES)
    log_gaps = (math.log(7), math.log(120))
    partners = len(PARTNERS)
    for pk in range(proc * share + 1, min(members, (proc + 1) * share) + 1):
        who = _Member(pk)
        joined = min(N_DAYS - 1, int((pk - 1 + rng.random()) * N_DAYS / members))
        joined_minute = rng.randrange(480, 1200)
        credit(
            who, joined, joined_minute, "gift", WELCOME_POINTS, "Welcome gift", r"\N", member_ct, pk
        )
        roll = rng.random()
        segment = (
            "prospect"
            if roll < 0.08
            else "lapsed"
            if roll < 0.26
            else "loyal"
            if roll < 0.41
            else "regular"
        )
        bought = []  # (day, minute)
        if segment != "prospect":
            gap = rng.uniform(26, 34) if segment == "loyal" else math.exp(rng.uniform(*log_gaps))
            jitter = 0.25 if segment == "loyal" else 0.6
            d = joined if rng.random() < 0.6 else joined + int(rng.expovariate(1 / gap))
            end = N_DAYS
            if segment == "lapsed":
                end = min(N_DAYS, rng.randint(d, max(d, N_DAYS - 240)) + 1)
            while d < end:
                minute = rng.randrange(480, 1260)
                if d == joined:
                    minute = min(1439, joined_minute + rng.randint(1, 30))
                bought.append((d, minute))
                d += max(1, round(gap * rng.lognormvariate(0, jitter)))
        favourite = rng.randrange(partners) + 1
        spender = rng.choice((0, 0, 0.04, 0.1, 0.25))
        qualifying = 0
        for d, minute in bought:
            expire(who, d)
            partner = favourite if rng.random() < 0.8 else rng.randrange(partners) + 1
            cents = max(100, min(300_000, round(100 * rng.lognormvariate(3.3, 0.7))))
            points = cents // 100
            purchase = new_id("loyalty_purchase", month[d])
            stamp = at(d, minute)
            write(
                "loyalty_purchase",
                month[d],
                f"{purchase}\t{partner}\tP{purchase}\t{pk}\t"
                f"{cents // 100}.{cents % 100:02d}\tEUR\t{stamp}\t{points}\t[]\t{stamp}\n",
            )
            credit(who, d, minute, "earn", points, "", purchase, r"\N", r"\N")
            if d >= N_DAYS - 365:
                qualifying += points
            if spender and who.balance >= REWARDS[0][4] and rng.random() < spender:
                redeem(who, d, min(1439, minute + 15), partner)
        expire(who, N_DAYS - 1)
        for lot_pk, entry_pk, points, remaining, d, minute in who.lots:
            write(
                "loyalty_pointlot",
                month[d],
                f"{lot_pk}\t{pk}\t{entry_pk}\t{points}\t"
                f"{remaining}\t{at(d, minute)}\t{expires_iso[d]}\n",
            )
        member_rows(write, rng, pk, who.balance, qualifying, at(joined, joined_minute))
    for out in files.values():
        out.close()
    fullest = max(max(counts) for counts in used.values())
    if fullest >= ROOM:
        raise RuntimeError(f"{fullest:,} rows of a table in one month: raise ROOM.")
    return dict(rows)


def member_rows(write, rng, pk: int, balance: int, qualifying: int, joined_at: str) -> None:
    """The user and member rows: the tier the last 365 days' points give (or one more, in its
    grace: about 3 % of those below Gold), birthdays for 70 %."""
    tier = 3 if qualifying >= TIERS[2][4] else 2 if qualifying >= TIERS[1][4] else 1
    grace = r"\N"
    if tier < 3 and rng.random() < 0.03:
        tier += 1
        grace = (TODAY + timedelta(days=rng.randint(-20, 80))).isoformat()
    joined_on = joined_at[:10]
    since = joined_on
    if tier > 1:
        since = max(joined_on, (TODAY - timedelta(days=rng.randint(20, 330))).isoformat())
    if rng.random() < 0.7:
        birthday = date(2000, 1, 1) + timedelta(days=rng.randrange(366))
        born = f"{birthday.month}\t{birthday.day}\t{rng.randint(1940, 2006)}\t{joined_on}"
    else:
        born = "\\N\t\\N\t\\N\t\\N"
    number = str(10_000_000 + pk)
    language = rng.choice(LANGUAGES)
    write(
        "accounts_user", 0, f"{pk}\t!\tf\tm{pk}@bench.invalid\tBench\t{pk}\tf\tt\t{joined_at}\t\n"
    )
    write(
        "accounts_member",
        0,
        f"{pk}\t{pk}\t{number}{luhn_check_digit(number)}\t{joined_on}\t"
        f"{born}\t{language}\tactive\t\tgreeting\tt\tf\t{balance}\t{tier}\t{since}\t{grace}\t"
        f"{joined_at}\n",
    )
