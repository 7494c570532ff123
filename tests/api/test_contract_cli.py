"""The partner API's contract, checked from outside, as a partner's generated client meets it.

gunicorn serves the program (DEBUG off, the purchase lane on) on the test database, and
schemathesis' command line runs against it with every check and the coverage, fuzzing and
stateful phases (tests/api/schemathesis.toml). Every operation of the served schema is tested,
whatever it is: what the schema calls valid must be accepted (a 422 for a rule of the program
is an answer, a 400 is not), what it calls invalid refused, every answer documented, and the
links chain an enrolment to the member's reads, a purchase to its refund, a redemption to its
cancellation. Afterwards the ledger invariants hold for everything the run wrote.

tests/api/test_schemathesis.py stays: it drives schemathesis in process, steering requests to
things that exist and pinning one success per operation.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from accounts.models import Member
from accounts.services import api_key_create
from loyalty.core.purchases import purchase_record
from rewards import services as reward_services
from tests import factories, worker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Path(__file__).with_name("schemathesis.toml")
# Named in schemathesis.toml's dictionaries: the run mixes them into what it generates.
KNOWN_MEMBERS = ("900000001", "900000019", "900000027")
KNOWN_PURCHASES = ("CONTRACT-1", "CONTRACT-2", "CONTRACT-3")
# The run's own budget is max-time in schemathesis.toml (45 s); this only stops a hung run.
RUN_TIMEOUT = 150


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _environment(**settings) -> dict[str, str]:
    """This process's environment without pytest's, Django's or Celery's own variables."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "DJANGO_", "CELERY_"))
        and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    return {**kept, **settings}


@pytest.fixture
def api_key(transactional_db) -> str:
    """A partner whose key has every scope; tiers, a rule, rewards; members with points and
    purchases under the numbers and ids the run knows. Committed, so the server sees them."""
    factories.make_tiers()
    factories.make_rule(name="One point per euro")
    partner = factories.make_partner("Contract Shop")
    _, raw_key = api_key_create(partner=partner, name="contract")
    coffee = factories.make_reward(slug="free-coffee", points_cost=50)
    factories.make_reward(slug="tote-bag", points_cost=300, stock=5)
    for number, external_id in zip(KNOWN_MEMBERS, KNOWN_PURCHASES, strict=True):
        member = factories.make_member(email=f"known-{number}@example.com")
        # (test data: a member number the run's dictionary names)
        Member.objects.filter(pk=member.pk).update(member_number=number)
        member.refresh_from_db()
        factories.give_points(member, 50_000)
        purchase_record(
            partner=partner,
            member=member,
            external_id=external_id,
            amount=Decimal("120.00"),
            currency=partner.currency,
            lines=[
                {"sku": "LATTE", "quantity": 4, "amount": Decimal("20.00")},
                {"sku": "BEANS", "quantity": 2, "amount": Decimal("100.00")},
            ],
        )
        reward_services.reward_redeem(member=member, reward=coffee, partner=partner)
    return raw_key


@pytest.fixture
def served(api_key, tmp_path):
    """gunicorn on a free port, serving the test database; stopped afterwards."""
    port = _free_port()
    env = _environment(
        DJANGO_SETTINGS_MODULE="loyalty.settings",
        DATABASE_URL=worker.test_database_url(),
        DEBUG="false",
        SECRET_KEY="contract-" + "x" * 50,
        ALLOWED_HOSTS="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        EMAIL_URL="memorymail://",
        # enough for a member the run enrols to redeem, so redemptions lead on to their links
        LOYALTY_WELCOME_POINTS="500",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "loyalty.wsgi", "--bind", f"127.0.0.1:{port}"]
    command += ["--workers", "1", "--threads", "4", "--log-level", "warning"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/api/schema/", timeout=5).status_code == 200:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not serve:\n{log_path.read_text(errors='replace')}")
            time.sleep(0.2)
        yield url, log_path
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=20)


def test_schemathesis_with_every_check_and_phase_finds_nothing(served, api_key, tmp_path):
    # given: the program served, with a key that has every scope
    url, server_log = served
    command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run"]
    command += [f"{url}/api/schema/", "--checks", "all", "--phases", "coverage,fuzzing,stateful"]
    command += ["-H", f"Authorization: Api-Key {api_key}", "--no-color"]
    # when: schemathesis runs from a folder of its own (it keeps state in the working directory)
    done = subprocess.run(
        command,
        cwd=tmp_path,
        env=_environment(PYTHONPATH=str(ROOT)),  # (the hooks module is tests.api.contract_hooks)
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
    )
    # then: every check passed in every phase
    if done.returncode != 0:
        server = server_log.read_text(errors="replace")[-6000:]
        pytest.fail(
            f"schemathesis exited with {done.returncode}:\n{done.stdout}\n{done.stderr}\n"
            f"--- gunicorn's log (end) ---\n{server}",
            pytrace=False,
        )
    for phase in ("Coverage", "Fuzzing", "Stateful"):  # run, not skipped
        assert f"✅ {phase}" in done.stdout, done.stdout
