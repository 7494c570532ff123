import os
import time

import pytest
from django.db import connection, connections
from django.utils import translation

from tests import factories
from tests.caching import cache_prefix_per_process
from tests.ledger import assert_ledger_invariants
from tests.pgbouncer.bouncer import Bouncer, pgbouncer_path, through_pgbouncer
from tests.worker import queue, redis_url, through_the_broker, workers  # noqa: F401 (fixtures)

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
cache_prefix_per_process()
# Every test's connection through a PgBouncer in transaction mode (make test runs a part so).
THROUGH_PGBOUNCER = through_pgbouncer()


def _missing(message: str) -> None:
    """Skip for want of a service, but fail in CI, which must run every test."""
    if IN_CI:
        pytest.fail(f"{message}; CI must run it", pytrace=False)
    pytest.skip(message)


# (when each test of this process started: a session left on the test database is named with
# the test that opened it)
_STARTED: list[tuple[float, str]] = []


def pytest_runtest_setup(item):
    """Tests marked postgres need real row locks: skip on SQLite, but fail in CI. Tests marked
    pgbouncer run only through it."""
    _STARTED.append((time.time(), item.nodeid))
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("needs PostgreSQL (set DATABASE_URL)")
    if item.get_closest_marker("pgbouncer") and not THROUGH_PGBOUNCER:
        pytest.skip("runs through PgBouncer, with LOYALTY_TEST_PGBOUNCER=1 (make test does)")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's, and at the end: no other session may still be on the test database
    (it could not be dropped). One left over is named in a warning, with its last query, and
    ended, so the database goes and the next run starts clean."""
    yield
    if connection.vendor != "postgresql" or THROUGH_PGBOUNCER:
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, application_name, client_port, backend_start, state, left(query, 300)"
            " FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        )
        left = cursor.fetchall()
        for pid, *_ in left:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    if left:
        import warnings

        named = [
            (next((test for at, test in reversed(_STARTED) if at <= start.timestamp()), "?"),)
            + (pid, application, port, state, query)
            for pid, application, port, start, state, query in left
        ]
        warnings.warn(f"sessions left on the test database, ended: {named!r}", stacklevel=1)


@pytest.fixture(scope="session", autouse=THROUGH_PGBOUNCER)
def pgbouncer(request, tmp_path_factory):
    """With LOYALTY_TEST_PGBOUNCER=1: a PgBouncer of the session's own, in transaction mode,
    between every test's connection and PostgreSQL, and the settings that mode needs
    (DATABASE_POOL_MODE=transaction). The test database is created and dropped directly."""
    if not THROUGH_PGBOUNCER:
        pytest.skip("runs with LOYALTY_TEST_PGBOUNCER=1")
    if connection.vendor != "postgresql":
        _missing("PgBouncer needs PostgreSQL (set DATABASE_URL)")
    if pgbouncer_path() is None:
        _missing("needs pgbouncer (Debian package pgbouncer; make install brings it)")
    request.getfixturevalue("django_db_setup")
    config = connection.settings_dict
    bouncer = Bouncer(
        tmp_path_factory.mktemp("pgbouncer"),
        host=config["HOST"] or "127.0.0.1",
        port=int(config["PORT"] or 5432),
        user=config["USER"],
        password=config["PASSWORD"],
    ).start()
    through = {"HOST": "127.0.0.1", "PORT": str(bouncer.port), "DISABLE_SERVER_SIDE_CURSORS": True}
    saved = {key: config.get(key) for key in through}
    connections.close_all()
    config.update(through)
    try:
        yield bouncer
    finally:
        connections.close_all()
        config.update(saved)
        bouncer.stop()


@pytest.fixture(autouse=True)
def _ledger_invariants_hold(request):
    """After every test that used the database, the ledger invariants hold."""
    uses_db = {"db", "transactional_db", "django_db_setup"} & set(request.fixturenames) or (
        request.node.get_closest_marker("django_db")
    )
    if not uses_db:
        yield
        return
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or (
        marker is not None and marker.kwargs.get("transaction")
    )
    request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    assert_ledger_invariants()


@pytest.fixture(autouse=True)
def _celery_eager(request):
    """Tasks run eagerly in process (REDIS_URL or not), except in tests marked real_worker,
    which send them through the broker to a real worker."""
    from loyalty.celery import app

    def configure(always: bool, propagates: bool) -> None:
        # Celery reads the namespaced names (CELERY_..., from the Django settings) first.
        app.conf.update(
            task_always_eager=always,
            CELERY_TASK_ALWAYS_EAGER=always,
            task_eager_propagates=propagates,
            CELERY_TASK_EAGER_PROPAGATES=propagates,
        )

    eager = request.node.get_closest_marker("real_worker") is None
    saved = app.conf.task_always_eager, app.conf.task_eager_propagates
    configure(eager, eager)
    yield
    configure(*saved)


@pytest.fixture(autouse=True)
def _no_welcome_gift(settings):
    """Balances start at zero in tests; the tests of the welcome gift turn it on."""
    settings.LOYALTY_WELCOME_POINTS = 0


@pytest.fixture(autouse=True)
def _language_reset():
    """A request in a member's language leaves it active in the thread; the next test starts
    without it, as a new process would."""
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    """Uploaded and seeded images go to a temporary folder, never into the repository."""
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def tiers(db):
    return factories.make_tiers()


@pytest.fixture
def partner(db):
    return factories.make_partner("Corner Shop")


@pytest.fixture
def base_rule(db):
    return factories.make_rule(name="One point per euro")


@pytest.fixture
def member(db, tiers):
    return factories.make_member(email="ona@example.com", first_name="Ona", language="lt")


@pytest.fixture
def staff_user(db):
    from accounts.models import User

    return User.objects.create_user(email="staff@example.com", password="x", is_staff=True)
