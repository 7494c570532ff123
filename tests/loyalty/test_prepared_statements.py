"""A purchase's prepared statements: the member lookup, prepared once, surviving migrations."""

from contextlib import contextmanager

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.errors import MemberNotFound
from accounts.models import Member
from loyalty.base.prepared import PreparedSQL
from loyalty.core.buyer import member_for_purchase
from loyalty.core.models import Purchase
from loyalty.core.selectors import tiers_by_rank
from tests import factories
from tests.api.conftest import make_client
from tests.api.purchase_helpers import buy, statements


def till_and_member():
    """A till's API client and a member, with the tiers and a point per euro (for the tests
    that commit, which cannot use the fixtures' rows)."""
    factories.make_tiers()
    factories.make_rule(name="Base")
    return make_client(factories.make_partner("Till")), factories.make_member()


@contextmanager
def column_retyped(table: str, column: str, to: str, back: str):
    """As a migration would: the column of another type, then its own again whatever happens."""
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {to}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {back}")


# --- plain SQL where the ORM compiled the same query on every request --------------------------


def _values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_member_for_a_purchase_is_what_the_orm_reads(db, tiers):
    # given: one member with everything set, one without a tier
    full = factories.make_member(
        email="full@example.com", first_name="Full", birthday="1990-02-03", language="lt"
    )
    Member.objects.filter(pk=full.pk).update(
        tier=tiers["silver"], tier_grace_until=timezone.localdate(), points_balance=0
    )
    bare = factories.make_member(email="bare@example.com")
    Member.objects.filter(pk=bare.pk).update(tier=None, tier_since=None)
    tiers_by_rank()  # the process's tier cache, filled once (not the lookup's own query)
    for member in (full, bare):
        # when
        with CaptureQueriesContext(connection) as queries:
            found = member_for_purchase(member.member_number)
            tier = found.member.tier
        # then: one query, the same values and types as the ORM's
        assert len(queries) <= 3  # (looked up and PREPAREd once per connection, then EXECUTE)
        expected = Member.objects.select_related("tier").get(pk=member.pk)
        assert _values(found.member) == _values(expected)
        assert [type(v) for v in _values(found.member).values()] == [
            type(v) for v in _values(expected).values()
        ]
        if expected.tier is None:
            assert tier is None
        else:
            assert _values(tier) == _values(expected.tier)
        assert found.member._state.adding is False and found.member._state.db == "default"
        assert "referrals" not in found.hooks
    with pytest.raises(MemberNotFound):
        member_for_purchase("123456782")


# --- statements prepared once per connection, and prepared afresh when they must be ---------------


@pytest.mark.postgres
def test_a_hot_statement_is_prepared_once_per_connection(api, member, settings):
    def sent():
        with CaptureQueriesContext(connection) as queries:
            assert buy(api, member, external_id=f"P-{len(seen)}").status_code == 201
        seen.append(1)
        return statements(queries)

    def heads():
        return [sql.split()[0] + " " + sql.split()[1] for sql in sent()]

    seen = []
    config = connection.settings_dict
    heads()  # whatever this connection had prepared before
    # when: the same connection again
    again = heads()
    # then: executed, not prepared
    assert any(head.startswith("EXECUTE loyalty_purchase_credit_") for head in again)
    assert not any(head.startswith("PREPARE") for head in again)
    # when: behind a pooler in transaction mode, the transaction's first with every hot
    # statement prepared where missing, in one query; the rest as they are
    config["DISABLE_SERVER_SIDE_CURSORS"] = True
    try:
        pooled = [sql for sql in sent() if "EXECUTE loyalty_" in sql]
    finally:
        del config["DISABLE_SERVER_SIDE_CURSORS"]
    assert len(pooled) >= 4
    assert pooled[0].startswith("SELECT loyalty_prepare_all(ARRAY['")
    assert all(sql.startswith("EXECUTE loyalty_") for sql in pooled[1:])
    # when: prepared statements are off (to measure them), plain SQL
    config["PREPARED_STATEMENTS"] = False
    try:
        plain = heads()
    finally:
        config["PREPARED_STATEMENTS"] = True
    assert not any(head.split()[0] in {"PREPARE", "EXECUTE"} for head in plain)
    assert any(head.startswith("WITH") for head in plain)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "table, column, wider, narrower",
    [
        ("accounts_member", "member_number", "varchar(13)", "varchar(12)"),  # the member lookup
        ("loyalty_tier", "qualifying_points", "bigint", "integer"),  # the lookup's tier
        ("loyalty_ledgerentry", "balance_after", "numeric(20)", "bigint"),  # the purchase's own
    ],
)
def test_a_migration_under_prepared_statements_costs_no_purchase(table, column, wider, narrower):
    # given: a connection that prepared the purchase's statements
    client, member = till_and_member()

    def buy_one(external_id):
        return buy(client, member, external_id, amount="10.00", key=external_id)

    assert buy_one("BEFORE").status_code == 201
    # when: a migration changes the type of a column a prepared statement returns
    with column_retyped(table, column, wider, narrower):
        after = buy_one("AFTER")
    # then: the purchase is recorded once, on the statements prepared afresh
    assert after.status_code == 201, after.content
    assert after.json()["points_earned"] == 10
    assert buy_one("BACK").status_code == 201  # and again after the change back
    assert buy_one("AFTER").status_code == 201  # a replay
    assert Purchase.objects.filter(member=member).count() == 3
    assert Member.objects.get(pk=member.pk).points_balance == 30


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_migration_under_a_prepared_read_outside_a_transaction_costs_no_answer():
    # given: a member read once (the qualifying points for next_tier are a prepared statement)
    client, member = till_and_member()
    assert buy(client, member, "P-1", amount="10.00").status_code == 201
    path = f"/api/v1/members/{member.member_number}/"
    assert client.get(path).json()["next_tier"]["points_needed"] == 490
    # when: the SUM it returns changes type (bigint points summed are numeric, integer points
    # bigint)
    with column_retyped("loyalty_ledgerentry", "points", "integer", "bigint"):
        after = client.get(path)
    # then: answered at once, on the statement prepared afresh
    assert after.status_code == 200, after.content
    assert after.json()["next_tier"]["points_needed"] == 490
    assert client.get(path).status_code == 200


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_statements_a_server_connection_kept_are_used_as_they_are():
    # given: statements prepared on the server connection, which a pooler in session mode
    # hands to a new connection of ours (ours knows nothing of them)
    client, member = till_and_member()
    assert buy(client, member, "FIRST", amount="10.00").status_code == 201
    PreparedSQL._prepared.pop(connection.connection)
    # when
    with CaptureQueriesContext(connection) as queries:
        again = buy(client, member, "SECOND", amount="10.00")
    # then: found, not prepared again ("already exists" would fail every request)
    assert again.status_code == 201, again.content
    assert not any(sql.startswith("PREPARE") for sql in statements(queries))
    assert Member.objects.get(pk=member.pk).points_balance == 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_new_connection_prepares_the_statements_again():
    factories.make_tiers()
    factories.make_rule(name="Base")
    partner = factories.make_partner("Till")
    member = factories.make_member()
    client = make_client(partner)

    def heads(external_id):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(
                "/api/v1/purchases/",
                {
                    "member_number": member.member_number,
                    "external_id": external_id,
                    "amount": "10.00",
                    "currency": "EUR",
                },
            )
            assert response.status_code == 201, response.content
        return [sql.split()[0] for sql in statements(queries)]

    heads("A")
    assert "PREPARE" not in heads("B")
    connection.close()
    first = heads("C")
    assert first.count("PREPARE") == first.count("EXECUTE") >= 4
    assert Member.objects.get(pk=member.pk).points_balance == 30
