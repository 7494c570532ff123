"""The fault-injection suite runs on a stack of its own (tests/faults/stack.py). It needs the
PostgreSQL server binaries and redis-server on the machine; without them it skips, but fails in
CI (CI=true), like the postgres and real_worker tests."""

import json
import os
import shutil
from glob import glob

import pytest

from tests.faults.stack import Client, Stack

SEED = """
import json
from decimal import Decimal
from accounts.services import api_key_create, partner_create
from loyalty.core.models import EarningRule
from loyalty.core.demo import SeedReport, seed_tiers
from webhooks.services import endpoint_create
tiers = seed_tiers(report=SeedReport())
EarningRule.objects.create(name="Base", points_per_unit=Decimal(1))
partner = partner_create(name="Fault Shop", currency="EUR")
_key, raw = api_key_create(partner=partner, name="faults")
endpoint_create(partner=partner, url=%(url)r, secret="s" * 32, event_types=[])
print(json.dumps({"key": raw, "tiers": {code: tier.pk for code, tier in tiers.items()}}))
"""


def _missing() -> str | None:
    if not glob("/usr/lib/postgresql/*/bin/initdb"):
        return "PostgreSQL's server binaries"
    if not shutil.which("redis-server"):
        return "redis-server"
    return None


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    missing = _missing()
    if missing:
        message = f"the fault suite needs {missing}"
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail(f"{message}; CI must run it", pytrace=False)
        pytest.skip(message)
    stack = Stack(tmp_path_factory.mktemp("faults"))
    try:
        stack.start()
        seeded = json.loads(stack.python(SEED % {"url": stack.receiver.url}).splitlines()[-1])
        stack.api_key = seeded["key"]
        stack.tiers = seeded["tiers"]
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def partner(stack):
    return Client(stack, stack.api_key)
