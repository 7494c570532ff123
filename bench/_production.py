"""The production shape of bench/api_earn.py: the program as docker-compose.yml runs it.

What it adds to the bare shape, each as the compose stack ships it: PgBouncer in transaction
mode in front of PostgreSQL (DATABASE_POOL_MODE=transaction, CONN_MAX_AGE as the stack sets
it), Redis for the cache and the Celery broker, the throttle at its default rate (a key a till:
one API key a connection, as many tills each have their own), a Celery worker, JSON logs and an
access log, Prometheus's shared folder, and one webhook endpoint of the partner, a real local
receiver answering 200, so every purchase's `points.earned` event goes through the outbox and
the webhook relay (`manage.py webhooks_relay`, as the stack runs it) to it. After the load the
run waits for the outbox to drain and checks that the receiver got every event of the run
exactly once by id.

A library module of api_earn.py: bench/run.py skips _private modules.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from _shared import ROOT

# What docker-compose.yml's x-app environment sets beyond the bare shape, read from the file so
# the bench runs what the stack ships (the database URL and pool mode come from the bouncer the
# run starts; Redis and Prometheus's folder from the shipped shape).
COMPOSE_KEYS = ("LOG_FORMAT", "CONN_MAX_AGE", "CONN_HEALTH_CHECKS", "LOYALTY_WEBHOOK_RELAY")


def compose_settings() -> dict[str, str]:
    import yaml

    environment = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["x-app"]["environment"]
    return {"LOG_LEVEL": "INFO", **{key: str(environment[key]) for key in COMPOSE_KEYS}}


COMPOSE_SETTINGS = compose_settings()
RECEIVER = r"""
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
out = open(sys.argv[2], "a", buffering=1)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with lock:
            out.write(json.loads(body)["id"] + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


class Receiver:
    """A partner's webhook receiver in a process of its own: writes each event's id to a file
    and answers 200."""

    def __init__(self, folder: Path, port: int):
        folder.mkdir(parents=True, exist_ok=True)
        self.ids = folder / f"received-{port}.txt"
        self.ids.write_text("")
        self.port = port
        self.process = subprocess.Popen(
            [sys.executable, "-c", RECEIVER, str(port), str(self.ids)], start_new_session=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/loyalty-events"

    def received(self) -> Counter:
        return Counter(line for line in self.ids.read_text().splitlines() if line)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def tills_and_endpoint(keys: int, receiver_url: str) -> tuple[list[str], int]:
    """In the benchmark's Django (set up by api_earn): `keys` new API keys of the bench partner
    (one a till) and its webhook endpoint to the receiver; returns the raw keys and the
    endpoint's id."""
    from accounts.models import Partner
    from accounts.services import api_key_create
    from webhooks.services import endpoint_create, secret_generate

    partner = Partner.objects.get(name__iexact="Bench Shop")
    raw = [api_key_create(partner=partner, name=f"bench till {n}")[1] for n in range(keys)]
    endpoint = endpoint_create(
        partner=partner,
        url=receiver_url,
        secret=secret_generate(),
        event_types=["points.earned"],
    )
    return raw, endpoint.pk


def endpoint_off(endpoint_id: int) -> None:
    """The bare shape emits no events: the endpoint stops after its run."""
    from webhooks.models import WebhookEndpoint
    from webhooks.services import endpoint_update

    endpoint_update(endpoint=WebhookEndpoint.objects.get(pk=endpoint_id), is_active=False)


def drained(endpoint_id: int, receiver: Receiver, timeout: float = 300) -> dict:
    """Wait until every delivery to the endpoint is delivered (or failed for good); then compare
    what the receiver got with the events: each exactly once by id."""
    from webhooks.models import WebhookDelivery

    deliveries = WebhookDelivery.objects.filter(endpoint_id=endpoint_id)
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        waiting = deliveries.exclude(status__in=["delivered", "failed"]).count()
        if not waiting:
            break
        time.sleep(1)
    waited = time.monotonic() - started
    events = {str(event) for event in deliveries.values_list("event_id", flat=True)}
    got = receiver.received()
    return {
        "events": len(events),
        "delivered": deliveries.filter(status="delivered").count(),
        "undelivered": deliveries.exclude(status="delivered").count(),
        "received": sum(got.values()),
        "missing": len(events - set(got)),
        "twice": sum(1 for count in got.values() if count > 1),
        "strangers": len(set(got) - events),
        "drain_seconds": waited,
    }


def production_env(bare_env: dict[str, str], pooled_url: str, shipped: dict[str, str]):
    """The bare shape's environment turned into the compose stack's: through the bouncer, the
    shipped shape's Redis and folders, the throttle at its default rate (the setting left unset)."""
    env = {**bare_env, **shipped, **COMPOSE_SETTINGS}
    env.update(DATABASE_URL=pooled_url, DATABASE_POOL_MODE="transaction")
    env.pop("LOYALTY_API_RATE", None)
    env["PYTHONPATH"] = str(ROOT)
    return env


def start_relay(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """The compose stack's relay service (`manage.py webhooks_relay`): it sends the webhook
    deliveries in batches; stopped like gunicorn (stop_gunicorn), logging beside it."""
    log = log_path.with_suffix(".relay.log").open("w")
    return subprocess.Popen(
        [sys.executable, "manage.py", "webhooks_relay"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def exactly_once(check: dict) -> bool:
    return (
        check["events"] > 0
        and check["missing"] == 0
        and check["twice"] == 0
        and check["strangers"] == 0
        and check["undelivered"] == 0
    )


def describe(check: dict) -> str:
    return (
        f"{check['events']:,} events, {check['received']:,} received in all, "
        f"{check['missing']} missing, {check['twice']} received twice, "
        f"{check['undelivered']} undelivered; the outbox drained {check['drain_seconds']:.0f} s "
        "after the load: " + ("exactly once each" if exactly_once(check) else "NOT exactly once")
    )


def receiver_port() -> int:
    from _earn_load import free_port

    return int(os.environ.get("BENCH_RECEIVER_PORT") or free_port())
