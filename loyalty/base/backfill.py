"""Filling a new column of a large table from another table, in batches (for data migrations).

A single UPDATE of a whole table holds its row locks, and leaves its dead row versions, until it
commits: on tens of millions of rows that is minutes of writes waiting. `fill_in_batches` updates
ranges of ids instead, each range its own transaction, so writes go on between them; rows
written meanwhile by the services carry the value already and are skipped. The migration that
calls it says `atomic = False`.
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext

from django.db import transaction

BATCH = 100_000


def fill_in_batches(
    connection, table: str, column: str, source: str, *, batch: int = BATCH, append_only=False
) -> int:
    """Set `column` of `table` where it is NULL to `source`, a scalar subquery that reads the
    row being filled as `t` (`SELECT p.member_id FROM parent p WHERE p.id = t.parent_id`), in
    ranges of `batch` ids. `append_only`: the table's append-only trigger (PostgreSQL, migration
    loyalty/0002) is lifted inside each batch's transaction only. Returns the rows filled."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {table} WHERE {column} IS NULL")
        first, last = cursor.fetchone()
    filled = 0
    if first is None:
        return filled
    for start in range(first, last + 1, batch):
        lifted = append_only_lifted(connection, table) if append_only else nullcontext()
        with transaction.atomic(using=connection.alias), lifted, connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS t SET {column} = ({source}) "
                f"WHERE t.{column} IS NULL AND t.id >= %s AND t.id < %s",
                [start, start + batch],
            )
            filled += cursor.rowcount
    return filled


@contextmanager
def append_only_lifted(connection, table: str):
    """Inside the caller's transaction, let rows of an append-only table be updated (PostgreSQL:
    its trigger disabled, then enabled again before the transaction ends, so no other session
    ever sees it off; meanwhile their writes to the table wait). Elsewhere nothing to lift."""
    if connection.vendor != "postgresql":
        yield
        return
    trigger = f"{table}_append_only"
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {trigger}")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {trigger}")
