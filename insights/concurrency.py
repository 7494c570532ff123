"""Work of the nightly run done on several database connections at once, so a run uses every
core the database has rather than one (PostgreSQL runs each statement on one core).

Each piece runs in a thread of its own, hence on a connection of its own (Django's connections
are per thread), in its own transaction, and the thread closes its connection when done. Only
for work that is not inside a caller's transaction: what other connections write is seen by
the caller only once committed."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from django.db import connection


def _own_connection(function: Callable, *args):
    try:
        return function(*args)
    finally:
        connection.close()


def start(pool: ThreadPoolExecutor, function: Callable, *args) -> Future:
    """Run function(*args) in the pool, on a connection of its own."""
    return pool.submit(_own_connection, function, *args)


def run_all(calls: list[tuple[Callable, tuple]], connections: int) -> list:
    """Run the calls on `connections` connections at once, each call in its own transaction as
    a connection comes free; return their results in order (the first error is raised once
    all have ended)."""
    with ThreadPoolExecutor(max_workers=max(min(connections, len(calls)), 1)) as pool:
        futures = [start(pool, function, *args) for function, args in calls]
    return [future.result() for future in futures]


def can_fan_out() -> bool:
    """Whether work may go to other connections: PostgreSQL, and no caller's transaction whose
    uncommitted rows they could not see (the tests run inside one)."""
    return connection.vendor == "postgresql" and not connection.in_atomic_block
