"""Fixtures for the webhook tests: a real HTTP receiver on 127.0.0.1, a frozen clock, emitting."""

import pytest
from django.db import transaction

from tests.webhooks import Receiver
from tests.webhooks.delivery_helpers import SECRET, T0
from webhooks import delivery, services


@pytest.fixture
def receiver():
    receiver = Receiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def endpoint(partner, receiver):
    return services.endpoint_create(partner=partner, url=receiver.url(), secret=SECRET)


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(T0, tick=False)
    return time_machine


@pytest.fixture
def emit(django_capture_on_commit_callbacks):
    """event_emit in its own transaction, running the after-commit enqueue (eager Celery)."""

    def emit(event_type="points.earned", payload=None, partner=None, member_id=None):
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            return services.event_emit(
                event_type=event_type,
                payload=payload or {"points": 10},
                partner=partner,
                member_id=member_id,
            )

    return emit


@pytest.fixture
def dispatch(django_capture_on_commit_callbacks):
    def dispatch(**kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return delivery.deliveries_dispatch_due(**kwargs)

    return dispatch
