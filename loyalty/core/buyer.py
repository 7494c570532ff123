"""The buyer of a purchase the partner API reports: found, locked and sized up in one statement.

`member_for_purchase` reads the member with their tier, locks their row (PostgreSQL) and asks,
in the same statement, which purchase hooks (loyalty.core.hooks) have something to do for them;
the answer is a `Buyer`, which purchases.purchase_record takes in place of a Member. This is
the purchase's hot path (docs/ARCHITECTURE.md, "The purchase's hot path"); everything else
passes a plain Member and loses nothing but the shortcut.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from accounts.errors import MemberNotFound
from accounts.models import Member
from accounts.services import clean_member_number
from loyalty.base.prepared import PreparedSQL

from . import hooks
from .models import Tier
from .selectors import tiers_by_rank
from .tiers import tier_copy


@dataclass(frozen=True)
class Buyer:
    """A member found by member_for_purchase to record a purchase.

    `row_locked`: the member's row is locked (PostgreSQL), so a statement run after the lookup
    sees all of the member's entries, and the purchase's own statement can count the tier
    points. `hooks`: the names of the purchase hooks that have something to do for this member
    (None: not known, every hook runs).
    """

    member: Member
    row_locked: bool = False
    hooks: frozenset[str] | None = None

    def wants(self, hook: hooks.PurchaseHook) -> bool:
        return self.hooks is None or hook.name in self.hooks


def member_for_purchase(number: str) -> Buyer:
    """The member with this number, found to record a purchase: one statement.

    It reads the member (not the user, which a purchase does not need) and, for each purchase
    hook that says when it applies (PurchaseHook.applies), whether it does for this member. On
    PostgreSQL the member's row is locked too (FOR NO KEY UPDATE OF the member table alone, as
    the purchase's balance UPDATE would lock it a moment later): every ledger write changes the
    balance under that lock, so a statement run after this one sees all of the member's
    entries, and purchase_record counts the tier points in its own statement.

    The tier (the earn multiplier, the upgrade check) is read after the lock, by the id the
    locked row holds, from this process's tiers (selectors.tiers_by_rank; a change staff make
    applies within their 30 seconds, as for earning rules): a tier joined into the locking
    statement could come back stale or empty after a wait for the lock, should the member's
    tier change meanwhile (READ COMMITTED re-reads only the locked row).

    The partner API calls this on every purchase, so the SQL is built once per process (what
    Member.objects.annotate(...).select_for_update(no_key=True) compiles to, without compiling it
    every time) and the values go through the fields' converters as the ORM's would.
    """
    number = clean_member_number(number)
    plan = _buyer_lookup_plan(connection.vendor)
    with connection.cursor() as cursor:
        plan.statement.execute(cursor, {"number": number, **plan.constants})
        row = cursor.fetchone()
    if row is None:
        raise MemberNotFound()
    return _buyer(plan, row)


def members_for_purchases(numbers: Iterable[str]) -> dict[str, Buyer]:
    """The members with these numbers (cleaned, as keys; numbers that name no one are left
    out), each as member_for_purchase finds them, to record a batch of purchases
    (loyalty.core.purchase_batch). On PostgreSQL one statement, which locks their rows in id
    order: two batches for the same members wait for each other and never deadlock."""
    cleaned = set()
    for number in numbers:
        with contextlib.suppress(MemberNotFound):
            cleaned.add(clean_member_number(number))
    plan = _buyer_lookup_plan(connection.vendor)
    if not plan.locks:  # (SQLite locks the whole database for a write)
        found = {}
        for number in sorted(cleaned):
            with contextlib.suppress(MemberNotFound):
                found[number] = member_for_purchase(number)
        return found
    with connection.cursor() as cursor:
        cursor.execute(plan.many_sql, {"numbers": sorted(cleaned), **plan.constants})
        rows = cursor.fetchall()
    buyers = (_buyer(plan, row) for row in rows)
    return {buyer.member.member_number: buyer for buyer in buyers}


def _buyer(plan: _LookupPlan, row) -> Buyer:
    row = list(row)
    for position, converters, column in plan.converters:
        value = row[position]
        for convert in converters:
            value = convert(value, column, connection)
        row[position] = value
    member_end = len(plan.member_names)
    member = Member.from_db(connection.alias, plan.member_names, row[:member_end])
    Member.tier.field.set_cached_value(member, _tier(member.tier_id))
    applying = {
        name for name, applies in zip(plan.hook_names, row[member_end:], strict=True) if applies
    }
    return Buyer(member, row_locked=plan.locks, hooks=plan.unconditional | applying)


def _tier(tier_id: int | None) -> Tier | None:
    """The member's tier by id, from this process's tiers (a copy: those are shared); one this
    process has not seen yet (a tier made seconds ago elsewhere) from the database."""
    if tier_id is None:
        return None
    for tier in tiers_by_rank():
        if tier.pk == tier_id:
            return tier_copy(tier)
    return Tier.objects.get(pk=tier_id)


@dataclass(frozen=True)
class _LookupPlan:
    statement: PreparedSQL
    many_sql: str
    locks: bool
    member_names: list[str]
    constants: dict  # the parameters of the hooks' expressions
    hook_names: list[str]  # the hooks whose `applies` is a column of the statement, in order
    unconditional: frozenset[str]  # the hooks that always run
    converters: list[tuple[int, list, object]]


@functools.cache
def _buyer_lookup_plan(vendor: str) -> _LookupPlan:
    quote = connection.ops.quote_name
    member_table = quote(Member._meta.db_table)
    member_fields = Member._meta.concrete_fields
    columns = [f"{member_table}.{quote(f.column)}" for f in member_fields]
    conditional = [hook for hook in hooks.purchase_hooks() if hook.applies is not None]
    constants: dict = {}
    columns += [
        _member_expression_sql(hook.condition(), hook.name, constants) for hook in conditional
    ]
    select = f"SELECT {', '.join(columns)} FROM {member_table} "
    number_column = f"{member_table}.{quote(Member._meta.get_field('member_number').column)}"
    sql = f"{select}WHERE {number_column} = %(number)s"
    locks = vendor == "postgresql"
    if locks:
        sql += f" FOR NO KEY UPDATE OF {member_table}"
    # (PostgreSQL only) a batch's buyers, locked in id order
    many_sql = (
        f"{select}WHERE {number_column} = ANY(%(numbers)s) "
        f"ORDER BY {member_table}.{quote(Member._meta.pk.column)} "
        f"FOR NO KEY UPDATE OF {member_table}"
    )
    converters = []
    for position, field in enumerate(member_fields):
        column = field.get_col(Member._meta.db_table)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((position, found, column))
    return _LookupPlan(
        statement=PreparedSQL(
            "loyalty_member_for_purchase",
            sql,
            {"number": "varchar", **{key: _sql_type(value) for key, value in constants.items()}},
        ),
        many_sql=many_sql,
        constants=constants,
        locks=locks,
        member_names=[f.attname for f in member_fields],
        hook_names=[hook.name for hook in conditional],
        unconditional=frozenset(
            hook.name for hook in hooks.purchase_hooks() if hook.applies is None
        ),
        converters=converters,
    )


def _member_expression_sql(expression, name: str, constants: dict) -> str:
    """The SQL of a boolean expression over the member row (OuterRef("pk") and the like), as a
    column of the lookup: what the ORM compiles for Member.objects.annotate(x=expression). Its
    parameters (constants such as EXISTS's SELECT 1) become named ones, added to `constants`."""
    marker = "hook_applies"
    query = Member.objects.annotate(**{marker: expression}).values(marker).query
    sql, params = query.sql_with_params()
    prefix, suffix = "SELECT ", f" AS {connection.ops.quote_name(marker)} FROM "
    suffix += connection.ops.quote_name(Member._meta.db_table)
    if not sql.startswith(prefix) or not sql.endswith(suffix) or "%(" in sql:
        raise ImproperlyConfigured(
            f"The purchase hook {name!r}: `applies` must be an expression over the member."
        )
    keys = [f"hook_{len(constants) + i}" for i in range(len(params))]
    names = iter(keys)

    def named(match) -> str:
        return match[0] if match[0] == "%%" else f"%({next(names)})s"

    sql = re.sub(r"%%|%s", named, sql[len(prefix) : -len(suffix)])
    constants.update(zip(keys, params, strict=True))
    return sql


def _sql_type(value) -> str:
    """The PostgreSQL type of a constant of a hook's expression (a prepared statement's
    parameters are declared)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, str):
        return "varchar"
    raise ImproperlyConfigured(f"A purchase hook's expression has a constant {value!r}.")
