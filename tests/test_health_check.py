"""The kept connection's health check (loyalty.base.postgresql): no round trip for a connection
that is idle and quiet, a new connection for one the server has closed."""

import time

import pytest
from django.db import connection, connections

from loyalty.base.postgresql.base import DatabaseWrapper, quiet_and_idle

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's backend"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def kept():
    """A connection of its own, kept between requests and checked at each (as production)."""
    db = DatabaseWrapper(
        {**connection.settings_dict, "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}, alias="kept"
    )
    yield db
    db.close()


def one_request(db, sql: str = "SELECT 1"):
    """What Django does around a request's first query: mark the health check due
    (close_if_unusable_or_obsolete at request_started), then run the query."""
    db.close_if_unusable_or_obsolete()
    with db.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def last_query(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_a_quiet_idle_connection_is_used_without_a_round_trip(kept):
    # given: a kept connection that has run the request's query
    assert one_request(kept, "SELECT 'first request'") == ("first request",)
    pid = kept.connection.info.backend_pid
    # when: the next request's health check
    kept.close_if_unusable_or_obsolete()
    kept.close_if_health_check_failed()
    # then: the same connection, and the server saw nothing since the first request
    assert kept.health_check_done
    assert kept.connection is not None and kept.connection.info.backend_pid == pid
    assert last_query(pid) == "SELECT 'first request'"


def test_a_connection_the_server_closed_is_replaced_before_the_request_uses_it(kept):
    # given: a kept connection whose backend the server then terminates (a restart, a pooler's
    # idle timeout)
    one_request(kept)
    pid = kept.connection.info.backend_pid
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 5
    while quiet_and_idle(kept.connection) and time.monotonic() < deadline:
        time.sleep(0.01)  # the goodbye arrives
    # when: the next request
    answer = one_request(kept, "SELECT 'next request'")
    # then: it ran, on a new connection, not into an error
    assert answer == ("next request",)
    assert kept.connection.info.backend_pid != pid


def test_a_connection_in_a_transaction_is_not_taken_as_quiet_and_idle(kept):
    # given: a connection left inside a transaction (not idle): only a query can tell
    one_request(kept)
    kept.connection.cursor().execute("BEGIN")
    # then
    assert not quiet_and_idle(kept.connection)
    kept.connection.cursor().execute("ROLLBACK")
    assert quiet_and_idle(kept.connection)


def test_the_project_uses_this_backend_on_postgresql():
    assert isinstance(connections["default"], DatabaseWrapper)
