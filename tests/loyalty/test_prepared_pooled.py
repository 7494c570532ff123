"""Hot statements behind a pooler in transaction mode, on PostgreSQL directly (DISABLE_SERVER_
SIDE_CURSORS, as DATABASE_POOL_MODE=transaction sets it): a transaction's first hot statement
prepares every one its server connection lacks, the rest EXECUTE; what could go wrong with that
count recovers. tests/pgbouncer runs purchases so through a real PgBouncer."""

import importlib

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from loyalty.base import prepared
from loyalty.base.prepared import POOLED, PreparedSQL, StalePreparedStatement, prepared_mode
from tests.api.purchase_helpers import statements

prepare_all_migration = importlib.import_module("loyalty.core.migrations.0022_prepare_all_function")

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pooled():
    """This connection as behind a pooler in transaction mode; the statements a test makes
    leave the process's registry after it (the others keep their order)."""
    config = connection.settings_dict
    config["DISABLE_SERVER_SIDE_CURSORS"] = True
    try:
        assert prepared_mode(connection) == POOLED
        yield
    finally:
        del config["DISABLE_SERVER_SIDE_CURSORS"]
        with PreparedSQL._registry_lock:
            kept = [s for s in PreparedSQL._registry.values() if not s.name.startswith(TEST)]
            PreparedSQL._registry.clear()
            for index, each in enumerate(kept):
                each.index = index
                PreparedSQL._registry[each.name] = each
            prepared._prepare_all_calls.clear()
        PreparedSQL._without_prepare_all = False
        connection.close()  # (its statements go with it)


TEST = "loyalty_test_"


def statement(name: str, sql: str = "SELECT %(n)s::int + 1") -> PreparedSQL:
    return PreparedSQL(f"{TEST}{name}", sql, {"n": "integer"})


def run(each: PreparedSQL, n: int):
    with connection.cursor() as cursor:
        each.execute(cursor, {"n": n})
        return cursor.fetchone()[0]


def server_has(each: PreparedSQL) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_prepared_statements WHERE name = %s", [each.name])
        return cursor.fetchone() is not None


def test_a_transaction_prepares_every_hot_statement_with_its_first(pooled):
    one, two = statement("one"), statement("two", "SELECT %(n)s::int * 2")
    # when
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        assert run(one, 1) == 2
        assert run(two, 5) == 10
        assert run(one, 3) == 4
    # then: the first with every hot statement, the others as they are
    sent = [sql for sql in statements(queries) if one.name in sql or two.name in sql]
    assert sent[0].startswith("SELECT loyalty_prepare_all(ARRAY[")
    assert two.name in sent[0].split("EXECUTE")[0]
    assert sent[1:] == [f"EXECUTE {two.name} (5)", f"EXECUTE {one.name} (3)"]
    # and outside a transaction, each statement in its own query with its own preparation
    with CaptureQueriesContext(connection) as queries:
        assert run(two, 7) == 14
    assert statements(queries)[0].startswith(f"SELECT loyalty_prepare('{two.name}'")


def test_a_hot_statement_made_after_a_transactions_first_is_prepared_then(pooled):
    one = statement("early")
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        assert run(one, 1) == 2
        late = statement("late", "SELECT %(n)s::int - 1")  # (a lazily built one, as the buyer's)
        assert run(late, 1) == 0
        assert run(one, 2) == 3
    sent = [sql for sql in statements(queries) if "loyalty_test_" in sql]
    assert [sql.startswith("SELECT loyalty_prepare_all(") for sql in sent] == [True, True, False]
    assert server_has(late)


def test_a_statement_the_server_connection_lost_fails_its_transaction_once(pooled):
    # given: a transaction counted both statements on its server connection
    one, two = statement("kept"), statement("lost")
    with pytest.raises(StalePreparedStatement), transaction.atomic():
        assert run(one, 1) == 2
        with connection.cursor() as cursor:  # as a DEALLOCATE by anyone else would
            cursor.execute(f"DEALLOCATE {two.name}")
        # when: the other runs
        run(two, 1)
    # then: the next transaction starts afresh, and both run
    with transaction.atomic():
        assert run(two, 4) == 5
        assert run(one, 4) == 5


def test_a_statement_that_cannot_be_prepared_leaves_the_others_running(pooled):
    # given: a hot statement over a table that is not there (a release ahead of its migration)
    broken = statement("broken", "SELECT n FROM loyalty_no_such_table WHERE n = %(n)s")
    fine = statement("fine")
    # when: a transaction runs another
    with transaction.atomic():
        assert run(fine, 1) == 2
    # then: it ran, and the broken one, run, says why it cannot
    assert not server_has(broken)
    with pytest.raises(StalePreparedStatement), transaction.atomic():
        run(broken, 1)
    with pytest.raises(DatabaseError, match="loyalty_no_such_table"), transaction.atomic():
        run(broken, 1)
    with transaction.atomic():
        assert run(fine, 2) == 3


def test_the_count_starts_again_with_each_transaction(pooled):
    one = statement("again")
    for n in range(3):
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            assert run(one, n) == n + 1
        sent = [sql for sql in statements(queries) if one.name in sql]
        assert sent[0].startswith("SELECT loyalty_prepare_all(")
    assert connection.prepared_known == 0


def test_a_server_connection_that_lost_its_statements_between_transactions(pooled):
    # given: a transaction counted the statements
    one = statement("between")
    with transaction.atomic():
        assert run(one, 1) == 2
    # when: the next transaction runs where they are gone (as on another server connection)
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")
    # then: it asks again, and runs
    with transaction.atomic():
        assert run(one, 2) == 3


def test_a_commit_of_a_transaction_managed_by_hand_starts_the_count_again(pooled):
    one = statement("by_hand")
    connection.set_autocommit(False)
    try:
        assert run(one, 1) == 2
        connection.commit()
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        assert run(one, 2) == 3  # (in the transaction after the commit: asked again)
        connection.commit()
        with connection.cursor() as cursor:
            cursor.execute("DEALLOCATE ALL")
        assert run(one, 3) == 4
        connection.commit()
    finally:
        connection.set_autocommit(True)


def test_a_statement_lost_in_a_transaction_managed_by_hand_says_so(pooled):
    one, two = statement("hand_kept"), statement("hand_lost")
    connection.set_autocommit(False)
    try:
        assert run(one, 1) == 2
        with connection.cursor() as cursor:
            cursor.execute(f"DEALLOCATE {two.name}")
        with pytest.raises(StalePreparedStatement):
            run(two, 1)
        connection.rollback()
        assert run(two, 2) == 3
        connection.commit()
    finally:
        connection.set_autocommit(True)


def test_a_release_ahead_of_its_migration_prepares_each_statement_alone(pooled):
    # given: the database lacks loyalty_prepare_all (migration loyalty/0022 not yet run)
    one = statement("ahead")
    with connection.cursor() as cursor:
        cursor.execute("DROP FUNCTION loyalty_prepare_all(text[], text[])")
    try:
        # when: a transaction runs a hot statement: it fails once, for the caller to run again
        with pytest.raises(StalePreparedStatement), transaction.atomic():
            run(one, 1)
        # then: from then on each statement is prepared alone, and runs
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            assert run(one, 2) == 3
        sent = [sql for sql in statements(queries) if one.name in sql]
        assert sent[0].startswith(f"SELECT loyalty_prepare('{one.name}'")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(prepare_all_migration.FUNCTION)
