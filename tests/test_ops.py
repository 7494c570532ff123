"""The operations endpoints in process: /healthz, /readyz without Redis (the embedded default:
only the database is asked) and /metrics. /readyz against each dependency stopped and started
again runs on the fault stack (tests/faults/test_faults.py)."""

import json
import os
import re
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from loyalty.core.purchases import purchase_record
from notifications.outbox import email_enqueue
from rewards.services import reward_redeem
from tests import factories
from webhooks.models import WebhookDelivery, WebhookEvent
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


def _sample(text: str, name: str, labels: str = "") -> float:
    """The value of one sample in Prometheus's text format (0 when absent)."""
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _metrics(client, **headers) -> str:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200
    return response.content.decode()


def test_healthz_answers_without_asking_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_without_redis_asks_the_database_alone(client, settings):
    settings.REDIS_URL = ""
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"ready": True, "database": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_readyz_with_redis_and_no_worker_is_not_ready_and_names_the_worker(client, settings):
    # given: a Redis URL pointing at nothing (a closed port) for the cache and the broker
    from loyalty.celery import app

    settings.REDIS_URL = "redis://127.0.0.1:9/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1},
        }
    }
    broker = app.conf.broker_url
    app.conf.broker_url = settings.REDIS_URL
    app.conf.broker_connection_retry = False
    try:
        response = client.get("/readyz")
    finally:
        app.conf.broker_url = broker
        app.conf.broker_connection_retry = True
    # then
    assert response.status_code == 503
    body = response.json()
    assert body["ready"] is False
    assert body["database"] == "ok"
    assert body["redis"] != "ok"
    assert body["worker"] != "ok"


def test_metrics_count_purchases_points_and_backlogs(
    client, member, partner, base_rule, django_capture_on_commit_callbacks
):
    # given
    before = _metrics(client)
    reward = factories.make_reward(points_cost=40)
    # when: two purchases (10 and 30 points), a redemption, an e-mail waiting to go out
    for external_id, amount in [("M-1", "10.00"), ("M-2", "30.00")]:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            purchase_record(
                partner=partner,
                member=member,
                external_id=external_id,
                amount=amount,
                currency="EUR",
            )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        reward_redeem(member=member, reward=reward)
    email_enqueue(kind="message", object_id=10**9)  # (waits: the test's transaction never commits)
    after = _metrics(client)
    # then
    grew = {
        name: _sample(after, name) - _sample(before, name)
        for name in [
            "loyalty_purchases_total",
            "loyalty_points_earned_total",
            "loyalty_points_spent_total",
        ]
    }
    assert grew == {
        "loyalty_purchases_total": 2,
        "loyalty_points_earned_total": 40,
        "loyalty_points_spent_total": 40,
    }
    assert _sample(after, "loyalty_outbox_pending", '{outbox="email"}') >= 1
    assert "django_http_requests_total_by_method_total" in after


def test_the_longest_wait_of_a_due_outbox_row_is_a_gauge(client, partner, time_machine):
    # given: a webhook delivery due 90 s ago that nothing has sent (no relay, no worker)
    time_machine.move_to(timezone.now(), tick=False)
    endpoint = endpoint_create(partner=partner, url="http://127.0.0.1:9/hook", secret="s" * 32)
    event = WebhookEvent.objects.create(type="points.earned", partner=partner, payload={})
    WebhookDelivery.objects.create(
        event=event, endpoint=endpoint, next_attempt_at=timezone.now() - timedelta(seconds=90)
    )
    # when
    text = _metrics(client)
    # then
    assert _sample(text, "loyalty_outbox_overdue_seconds", '{outbox="webhook"}') == 90.0
    assert 'loyalty_outbox_overdue_seconds{outbox="email"} 0.0' in text  # nothing due


def test_a_purchase_rolled_back_is_not_counted(
    client, member, partner, base_rule, django_capture_on_commit_callbacks
):
    before = _sample(_metrics(client), "loyalty_purchases_total")
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        purchase_record(
            partner=partner, member=member, external_id="M-3", amount="5.00", currency="EUR"
        )
        raise RuntimeError("rolled back")
    assert _sample(_metrics(client), "loyalty_purchases_total") == before


def test_metrics_ask_for_the_token_when_one_is_set(client, settings):
    settings.LOYALTY_METRICS_TOKEN = "s3cret-token"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-token")
    assert response.status_code == 200


def test_json_logs_carry_the_requests_id():
    # the settings read with LOG_FORMAT=json, as docker-compose.yml runs them; a page not found
    # is logged (django.request) while the request with its X-Request-ID is answered
    code = (
        "import django; django.setup()\n"
        "from django.test import Client\n"
        "response = Client().get('/no-such-page', HTTP_X_REQUEST_ID='req-42')\n"
        "print(response['X-Request-ID'])\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "loyalty.settings", "LOG_FORMAT": "json"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "req-42"
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    [not_found] = [line for line in lines if line["logger"] == "django.request"]
    assert not_found["request_id"] == "req-42"
    assert not_found["level"] == "WARNING"
    assert "/no-such-page" in not_found["message"]
