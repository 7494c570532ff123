import os

import pytest
from django.db import connection
from django.utils import translation

from tests import factories
from tests.ledger import assert_ledger_invariants
from tests.worker import queue, redis_url, through_the_broker, workers  # noqa: F401 (fixtures)


def pytest_runtest_setup(item):
    """Tests marked postgres need real row locks: skip on SQLite, but fail in CI."""
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        message = "needs PostgreSQL (set DATABASE_URL)"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message}; CI must run it", pytrace=False)
        pytest.skip(message)


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
