"""Filling the member's copy (loyalty.base.distribution) on rows written before its column.

The migrations that add the column only add it (a change of the catalogue, instant at any size),
and the services write it from then on. Older rows are filled by `manage.py member_ids_fill`,
run once after the release is deployed, with the site up: not in the migration, whose fill would
keep the site down for as long as it takes (minutes on tens of millions of rows) and could not
reach the rows the old release wrote while the new one rolled out. It can be run again at any
time: it fills only what is empty and can be filled.

Each app registers, next to its models, how a row finds its member (`member_copy_register`), as
a scalar subquery that reads the row being filled as `t`. `fill_in_batches` updates the table in
batches of rows in the order of its primary key (numbers or UUIDs), each found through that
key's index from where the last ended and written in a transaction of its own, so writes go on
between them.
"""

from __future__ import annotations

import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from django.db import OperationalError, transaction

BATCH = 100_000

# The only append-only table whose rows the fill may update: the ledger's entries stay closed.
LIFTABLE = frozenset({"loyalty_lotmovement"})
LOCK_TIMEOUT = "5s"  # for lifting the trigger: waiting longer would hold up the table's writers
LOCK_TRIES = 5


@dataclass(frozen=True)
class MemberCopy:
    table: str
    source: str | dict[str, str]  # the subquery, or one per database vendor
    append_only: bool = False

    def source_for(self, vendor: str) -> str:
        return self.source if isinstance(self.source, str) else self.source[vendor]


MEMBER_COPIES: list[MemberCopy] = []  # in the order they are filled (a parent before its rows)


def member_copy_register(table: str, source: str | dict[str, str], *, append_only=False) -> None:
    MEMBER_COPIES.append(MemberCopy(table, source, append_only))


def member_copies_fill(connection, *, batch: int = BATCH, tables=None, report=None) -> dict:
    """Fill every registered table (or those named in `tables`); returns {table: rows filled}.
    `report(table, rows)` is called after each table."""
    filled = {}
    for copy in MEMBER_COPIES:
        if tables is not None and copy.table not in tables:
            continue
        filled[copy.table] = fill_in_batches(
            connection,
            copy.table,
            "member_id",
            copy.source_for(connection.vendor),
            batch=batch,
            append_only=copy.append_only,
        )
        if report is not None:
            report(copy.table, filled[copy.table])
    return filled


def fill_in_batches(
    connection, table: str, column: str, source: str, *, batch: int = BATCH, append_only=False
) -> int:
    """Set `column` of `table` where it is NULL to `source`, where that finds a value, in
    batches of `batch` rows in the order of the primary key (`id`). `append_only`: the table's
    append-only trigger is lifted inside each batch's transaction only (LIFTABLE). Returns the
    rows filled."""
    filled = 0
    after = None
    while True:
        keys, params = _keys(after)
        with connection.cursor() as cursor:
            cursor.execute(  # (the batch's last key: PostgreSQL has no MAX of a UUID)
                f"SELECT id FROM (SELECT id FROM {table} AS t WHERE {keys} ORDER BY id "
                "LIMIT %s) AS b ORDER BY id DESC LIMIT 1",
                [*params, batch],
            )
            row = cursor.fetchone()
        if row is None:
            return filled
        filled += _fill_batch(connection, table, column, source, after, row[0], append_only)
        after = row[0]


def _keys(after, until=None) -> tuple[str, list]:
    """The batch's range of keys, as a condition on `t` and its parameters."""
    conditions, params = (
        ["TRUE" if after is None else "t.id > %s"],
        [] if after is None else [after],
    )
    if until is not None:
        conditions.append("t.id <= %s")
        params.append(until)
    return " AND ".join(conditions), params


def _fill_batch(connection, table, column, source, after, until, append_only) -> int:
    keys, params = _keys(after, until)
    if append_only:  # (no lock taken for a batch with nothing empty)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT 1 FROM {table} AS t WHERE {keys} AND t.{column} IS NULL LIMIT 1", params
            )
            if cursor.fetchone() is None:
                return 0
    sql = (
        f"UPDATE {table} AS t SET {column} = ({source}) "
        f"WHERE {keys} AND t.{column} IS NULL AND ({source}) IS NOT NULL"
    )
    for tries_left in reversed(range(LOCK_TRIES)):
        try:
            lifted = append_only_lifted(connection, table) if append_only else nullcontext()
            with transaction.atomic(using=connection.alias), lifted, connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.rowcount
        except OperationalError as exc:  # the trigger's lock not had in LOCK_TIMEOUT
            if not tries_left or getattr(exc.__cause__, "pgcode", None) != "55P03":
                raise
            time.sleep(1)
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def append_only_lifted(connection, table: str):
    """Inside the caller's transaction, let rows of an append-only table be updated (PostgreSQL:
    its trigger disabled, and enabled again before the transaction ends, so no other session
    ever sees it off; their writes to the table wait meanwhile, and the lock is not waited for
    past LOCK_TIMEOUT). Only for LIFTABLE tables. Elsewhere there is nothing to lift."""
    if table not in LIFTABLE:
        raise ValueError(f"{table} stays append-only")
    if connection.vendor != "postgresql":
        yield
        return
    trigger = f"{table}_append_only"
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
        cursor.execute("SET LOCAL lock_timeout = DEFAULT")
