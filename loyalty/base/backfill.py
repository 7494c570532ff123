"""Filling a new column of a large table from another table, in batches (for data migrations).

A single UPDATE of a whole table holds its row locks until it commits: on tens of millions of
rows that is minutes of writes waiting. `fill_in_batches` updates ranges of the primary key
instead, each range its own transaction, so writes go on between them; rows written meanwhile by
the services carry the value already and are skipped. The migration that
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
    batches of `batch` rows in the order of the primary key (`id`: numbers or UUIDs), each found
    through that key's index from where the last one ended. `append_only`: the table's
    append-only trigger (PostgreSQL, migration loyalty/0002) is lifted inside each batch's
    transaction only. Returns the rows filled (a row `source` finds nothing for stays NULL)."""
    filled = 0
    after = None
    while True:
        lifted = append_only_lifted(connection, table) if append_only else nullcontext()
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            start = "" if after is None else "WHERE id > %s"
            cursor.execute(  # (the batch's last key: PostgreSQL has no MAX of a UUID)
                f"SELECT id FROM (SELECT id FROM {table} {start} ORDER BY id LIMIT %s) AS b "
                "ORDER BY id DESC LIMIT 1",
                [batch] if after is None else [after, batch],
            )
            row = cursor.fetchone()
            if row is None:
                return filled
            until = row[0]
            with lifted:
                cursor.execute(
                    f"UPDATE {table} AS t SET {column} = ({source}) WHERE t.{column} IS NULL "
                    f"AND t.id <= %s {'' if after is None else 'AND t.id > %s'}",
                    [until] if after is None else [until, after],
                )
                filled += cursor.rowcount
        after = until


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
