"""AddIndexOnline (loyalty.base.online_index): an index built without stopping writes, and built
again over the INVALID leftover of a concurrent build that failed."""

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, models
from django.db.migrations.state import ProjectState

from loyalty.base.online_index import AddIndexOnline
from webhooks.models import WebhookDelivery

NAME = "test_online_idx"
TABLE = WebhookDelivery._meta.db_table


def operation() -> AddIndexOnline:
    return AddIndexOnline(
        model_name="webhookdelivery", index=models.Index(fields=["endpoint"], name=NAME)
    )


def run(forwards: bool = True) -> None:
    op = operation()
    before = ProjectState.from_apps(apps)
    after = before.clone()
    op.state_forwards("webhooks", after)
    with connection.schema_editor(atomic=False) as editor:
        if forwards:
            op.database_forwards("webhooks", editor, before, after)
        else:
            op.database_backwards("webhooks", editor, after, before)


def index_state() -> tuple[bool, bool] | None:
    """(valid, unique) of the test's index, None without it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.indisvalid, i.indisunique FROM pg_index i "
            "JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = %s",
            [NAME],
        )
        row = cursor.fetchone()
    return tuple(row) if row else None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_built_concurrently_and_again_over_a_failed_builds_leftover(endpoint_pair):
    # given: a concurrent build that failed (a unique index over two deliveries of one endpoint)
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute(f"CREATE UNIQUE INDEX CONCURRENTLY {NAME} ON {TABLE} (endpoint_id)")
    assert index_state() == (False, True)  # left behind, INVALID

    # when: the migration runs again
    run()

    # then: the leftover is gone, the index built as the migration says
    assert index_state() == (True, False)
    run(forwards=False)
    assert index_state() is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_working_index_of_the_same_name_is_not_dropped(endpoint_pair):
    run()
    with pytest.raises(DatabaseError):
        run()  # as AddIndex: the index exists
    assert index_state() == (True, False)
    run(forwards=False)


@pytest.fixture
def endpoint_pair(db, partner):
    """Two deliveries to one endpoint (a unique index over the endpoint cannot be built)."""
    from webhooks import services
    from webhooks.models import WebhookEvent

    endpoint = services.endpoint_create(
        partner=partner, url="http://127.0.0.1:9/hook", secret="s" * 16
    )
    for n in range(2):
        event = WebhookEvent.objects.create(type="points.earned", partner=partner, payload={"n": n})
        WebhookDelivery.objects.create(event=event, endpoint=endpoint)
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {NAME}")
