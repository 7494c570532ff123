"""Through PgBouncer in transaction mode (LOYALTY_TEST_PGBOUNCER=1; `make test` runs these, and
the concurrency tests, so): a transaction may run on any server connection, so the purchase's
prepared statements, a migration under them and the insights run's lock must not count on one.
"""

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts.models import Member
from insights.ladder_sql import RUN_LOCK, run_lock
from loyalty.base.prepared import PER_CONNECTION, POOLED, PreparedSQL, prepared_mode
from loyalty.core.models import Purchase
from tests import factories
from tests.api.conftest import make_client
from tests.api.purchase_helpers import buy, statements
from tests.concurrency import run_at_once
from tests.loyalty.test_prepared_statements import column_retyped
from webhooks.models import WebhookDelivery
from webhooks.services import endpoint_create

pytestmark = [
    pytest.mark.pgbouncer,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

TILLS = 6


def tills_and_members():
    """A till's API client per member (a client is not shared between threads), with the tiers
    and a point per euro."""
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    members = [factories.make_member(email=f"m{i}@example.com") for i in range(TILLS)]
    return [make_client(partner) for _ in members], members


def buy_at_once(clients, members, label: str) -> list:
    """Each till buys for its member at the same moment, on connections of their own: the
    answers and the SQL each sent."""

    def till(client, member):
        with CaptureQueriesContext(connection) as queries:
            ident = f"{label}-{member.pk}"
            answer = buy(client, member, ident, amount="10.00", key=ident)
        return answer, statements(queries)

    results = run_at_once(
        [lambda c=c, m=m: till(c, m) for c, m in zip(clients, members, strict=True)]
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors
    return results


def server_connections(bouncer) -> set:
    name = connection.settings_dict["NAME"]
    return {row["remote_pid"] for row in bouncer.console("SHOW SERVERS") if row["database"] == name}


@pytest.mark.django_db  # (no other connection: in the test's transaction)
def test_the_tests_talk_to_postgresql_through_the_bouncer(pgbouncer):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    assert connection.settings_dict["PORT"] == str(pgbouncer.port)
    clients = pgbouncer.console("SHOW CLIENTS")
    assert any(row["database"] == connection.settings_dict["NAME"] for row in clients)
    assert prepared_mode(connection) == POOLED
    config = {row["key"]: row["value"] for row in pgbouncer.console("SHOW CONFIG")}
    assert config["pool_mode"] == "transaction"


def test_purchases_at_once_on_several_server_connections_run_prepared(pgbouncer):
    # given
    clients, members = tills_and_members()
    # when
    results = buy_at_once(clients, members, "A")
    # then: recorded, on more than one server connection, every hot statement prepared where
    # its server connection lacked it in the query that runs the transaction's first
    assert [answer.status_code for answer, _ in results] == [201] * TILLS
    assert len(server_connections(pgbouncer)) > 1
    for _, sent in results:
        hot = [sql for sql in sent if "EXECUTE loyalty_" in sql]
        assert len(hot) >= 4
        assert hot[0].startswith("SELECT loyalty_prepare_all(")
        # (the buyer's lookup, built on the process's first purchase, may make a second call)
        assert hot[-1].startswith("EXECUTE loyalty_idempotency_store_")
        assert hot[-2].startswith("EXECUTE loyalty_purchase_credit_")
        assert not any("DEALLOCATE" in sql for sql in sent)  # (no statement was missed)
    assert [m.points_balance for m in Member.objects.filter(pk__in=[m.pk for m in members])] == [
        10
    ] * TILLS


def test_purchases_with_a_webhook_endpoint_record_their_events_prepared(pgbouncer, settings):
    # given: the partner has a webhook endpoint (the relay sends: nothing is enqueued here)
    settings.LOYALTY_WEBHOOK_RELAY = True
    clients, members = tills_and_members()
    partner = Purchase._meta.get_field("partner").related_model.objects.get()
    endpoint_create(partner=partner, url="http://127.0.0.1:9/hook", secret="s" * 32)
    # when
    results = buy_at_once(clients, members, "W")
    # then: each purchase's event and its delivery, in the one prepared statement (prepared
    # with the transaction's first)
    assert [answer.status_code for answer, _ in results] == [201] * TILLS
    for _, sent in results:
        events = [sql for sql in sent if "EXECUTE webhooks_event_insert" in sql]
        assert len(events) == 1
        assert events[0].startswith("EXECUTE webhooks_event_insert")
        first = next(sql for sql in sent if "EXECUTE " in sql)
        assert first.startswith("SELECT loyalty_prepare_all(") and "webhooks_event_insert" in first
    assert WebhookDelivery.objects.filter(status="pending").count() == TILLS
    assert {d.event.partner_id for d in WebhookDelivery.objects.select_related("event")} == {
        partner.pk
    }


def test_a_purchase_on_a_server_connection_that_never_saw_the_statements(pgbouncer):
    # given: a purchase's statements prepared on the server connection it ran on
    clients, members = tills_and_members()
    assert buy(clients[0], members[0], "FIRST", amount="10.00").status_code == 201
    # when: the pooler replaces its server connections (as after server_lifetime, or when
    # another client holds the one we had): our next transaction runs on a new one
    pgbouncer.console("RECONNECT")
    again = buy(clients[0], members[0], "SECOND", amount="10.00")
    # then
    assert again.status_code == 201, again.content
    assert Member.objects.get(pk=members[0].pk).points_balance == 20


def test_prepared_once_per_connection_would_fail_behind_the_pooler(pgbouncer):
    """Why the pooled way exists: a statement prepared on one server connection is unknown on
    the next."""
    statement = PreparedSQL("loyalty_test_once", "SELECT %(n)s::int + 1", {"n": "integer"})
    config = connection.settings_dict
    config["DISABLE_SERVER_SIDE_CURSORS"] = False
    try:
        assert prepared_mode(connection) == PER_CONNECTION
        with connection.cursor() as cursor:
            statement.execute(cursor, {"n": 1})
            assert cursor.fetchone() == (2,)
            pgbouncer.console("RECONNECT")
            with pytest.raises(DatabaseError, match="does not exist"):
                statement.execute(cursor, {"n": 2})
    finally:
        config["DISABLE_SERVER_SIDE_CURSORS"] = True
        PreparedSQL._prepared.pop(connection.connection, None)
    with connection.cursor() as cursor:
        statement.execute(cursor, {"n": 3})
        assert cursor.fetchone() == (4,)


@pytest.mark.parametrize(
    "table, column, wider, narrower",
    [
        ("accounts_member", "member_number", "varchar(13)", "varchar(12)"),  # the member lookup
        ("loyalty_ledgerentry", "balance_after", "numeric(20)", "bigint"),  # the purchase's own
    ],
)
def test_a_migration_through_the_pooler_costs_no_purchase(
    pgbouncer, table, column, wider, narrower
):
    # given: the purchase's statements prepared on several server connections
    clients, members = tills_and_members()
    assert [a.status_code for a, _ in buy_at_once(clients, members, "BEFORE")] == [201] * TILLS
    assert len(server_connections(pgbouncer)) > 1
    # when: a migration changes the type of a column a prepared statement returns, and every
    # till buys again at once (each server connection's statements are stale)
    with column_retyped(table, column, wider, narrower):
        after = buy_at_once(clients, members, "AFTER")
        read = clients[0].get(f"/api/v1/members/{members[0].member_number}/")
    back = buy_at_once(clients, members, "BACK")
    # then: every purchase recorded once
    assert [a.status_code for a, _ in after] == [201] * TILLS, [a.content for a, _ in after]
    assert read.status_code == 200, read.content
    assert [a.status_code for a, _ in back] == [201] * TILLS
    assert Purchase.objects.count() == 3 * TILLS
    balances = Member.objects.filter(pk__in=[m.pk for m in members]).values_list(
        "points_balance", flat=True
    )
    assert list(balances) == [30] * TILLS


def test_the_insights_run_lock_is_let_go_through_the_pooler(pgbouncer):
    def taken_elsewhere() -> bool:
        def attempt():
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [RUN_LOCK])
                return not cursor.fetchone()[0]

        return run_at_once([attempt])[0]

    for _ in range(3):  # a run after a run
        with run_lock():
            assert taken_elsewhere() is True
        assert taken_elsewhere() is False
