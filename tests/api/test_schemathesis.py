"""The partner API against its own served schema, as a real client sees it.

schemathesis loads /api/schema/ through the WSGI application (not from drf-spectacular in
Python), generates requests for every operation, valid and invalid ones, sends them in process
to the same Django application and checks each answer: never a 5xx, a status code the schema
documents, the documented content type and headers, and a body that matches the schema.

Requests are steered so that most carry a valid API key, a fresh Idempotency-Key and identifiers
that exist (member numbers, purchase ids, redemptions, vouchers, the reward's code); the rest
keep what schemathesis generated, so bad keys, odd headers and unknown identifiers are fuzzed
too and must be refused with a documented 4xx. A stateful run follows the schema's links
(enrol a member, then read them; redeem, then cancel), and explicit calls pin one successful
answer per operation. tests/api/test_contract_cli.py runs schemathesis' command line against
gunicorn with every check and phase.

Hypothesis drives schemathesis' strategies directly rather than through its pytest plugin
(`schemathesis.pytest.from_fixture`), which reads `Node._nodeid`, gone in pytest 9.2.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Member
from accounts.services import api_key_create
from loyalty.core.purchases import purchase_record
from rewards import services as reward_services
from tests import factories
from tests.ledger import assert_ledger_invariants

SCHEMA_PATH = "/api/schema/"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 50
# Which known object a request names; 0 keeps the generated identifier (shrinks to known ones).
PICKS = st.sampled_from([1, 2, 3, 4, 5, 6, 0])
# Mostly a valid key and a fresh Idempotency-Key; sometimes no new key, or all as generated.
AUTH = st.sampled_from(["valid"] * 6 + ["key only", "generated"])
HYPOTHESIS = {
    "deadline": None,
    "database": None,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
}


@dataclass
class Known:
    """What exists in the database, so generated requests can name it."""

    api_key: str
    member_numbers: list[str]
    reward: str
    purchases: list[str]
    redemptions: list[int]
    vouchers: list[str]


def _served_schema():
    return schemathesis.openapi.from_wsgi(SCHEMA_PATH, WSGIHandler())


def _operation_labels() -> list[str]:
    """Every operation of the served schema (loaded at collection; no database needed)."""
    labels = []
    for result in _served_schema().get_all_operations():
        operation = result.ok()  # an invalid operation definition fails collection loudly
        labels.append(operation.label)
    return labels


def pytest_generate_tests(metafunc):
    if "operation_label" in metafunc.fixturenames:
        metafunc.parametrize("operation_label", _operation_labels())


@pytest.fixture
def _keep_test_connection():
    """Requests must not close the connection that holds the test's transaction.

    Django's test client does the same: `close_old_connections` runs on request_started and
    request_finished and would drop the connection inside the test's atomic block.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def known(db, settings, _keep_test_connection) -> Known:
    """A partner with a key, tiers, a rule, members with points, purchases and redemptions."""
    settings.LOYALTY_API_RATE = None
    factories.make_tiers()
    factories.make_rule(name="One point per euro")
    partner = factories.make_partner("Schema Shop")
    _, raw_key = api_key_create(partner=partner, name="schemathesis")
    members = [
        factories.make_member(email=f"fuzz{i}@example.com", first_name=f"Fuzz {i}")
        for i in range(3)
    ]
    reward = factories.make_reward(slug="free-coffee", points_cost=50)
    purchases, redemptions, vouchers = [], [], []
    for i, member in enumerate(members):
        factories.give_points(member, 100_000)
        purchases.append(f"KNOWN-{i}")
        purchase_record(
            partner=partner,
            member=member,
            external_id=purchases[-1],
            amount=Decimal("42.50"),
            currency=partner.currency,
        )
        for _ in range(4):
            redemption = reward_services.reward_redeem(
                member=member, reward=reward, partner=partner
            )
            redemptions.append(redemption.pk)
            vouchers.append(redemption.voucher.display_code)
    return Known(
        api_key=raw_key,
        member_numbers=[m.member_number for m in members],
        reward=reward.slug,
        purchases=purchases,
        redemptions=redemptions,
        vouchers=vouchers,
    )


@pytest.fixture
def api_schema(known):
    return _served_schema()


@contextmanager
def _one_example():
    """Each generated example starts from the same data and leaves the ledger consistent.

    Rolling back to a savepoint keeps examples independent, so Hypothesis can replay and
    shrink a failure; the ledger invariants are checked before the rollback.
    """
    savepoint = transaction.savepoint()
    try:
        yield
        assert_ledger_invariants()
    finally:
        transaction.savepoint_rollback(savepoint)


def _valid_headers(known: Known, case) -> dict[str, str]:
    headers = {"Authorization": f"Api-Key {known.api_key}"}
    if case.method.upper() == "POST":
        headers["Idempotency-Key"] = str(uuid.uuid4())
    return headers


def _steer(case, known: Known, pick: int) -> None:
    """Name things that exist: pick 0 keeps what was generated, others choose a known one."""
    if pick == 0:
        return
    i = pick - 1

    def nth(values):
        return values[i % len(values)]

    replacements = {
        "member_number": nth(known.member_numbers),
        "external_id": nth(known.purchases),
        "redemption_id": nth(known.redemptions),
        "code": nth(known.vouchers),
    }
    for name in list(case.path_parameters or {}):
        if name in replacements:
            case.path_parameters[name] = replacements[name]
    if case.query and "member_number" in case.query:
        case.query["member_number"] = replacements["member_number"]
    bodies = [case.body] if isinstance(case.body, dict) else []
    if bodies and isinstance(case.body.get("purchases"), list):  # a batch: each purchase too
        bodies += [body for body in case.body["purchases"] if isinstance(body, dict)]
    for body in bodies:
        if "member_number" in body:
            body["member_number"] = replacements["member_number"]
        if "reward" in body:
            body["reward"] = known.reward
        if "currency" in body:
            body["currency"] = "EUR"


def test_every_operation_answers_as_its_schema_says(api_schema, known, operation_label):
    # given: generated requests, valid and invalid, mostly about things that exist
    operation = api_schema.find_operation_by_label(operation_label)
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases, pick=PICKS, auth=AUTH)
    @settings(max_examples=MAX_EXAMPLES, **HYPOTHESIS)
    def answers_as_documented(case, pick, auth):
        _steer(case, known, pick)
        headers = {
            "valid": _valid_headers(known, case),
            "key only": {"Authorization": f"Api-Key {known.api_key}"},
            "generated": None,
        }[auth]
        # when / then: no 5xx; a documented status, content type, headers and body
        with _one_example():
            case.call_and_validate(headers=headers, checks=CHECKS)

    answers_as_documented()


def test_stateful_workflows_answer_as_the_schema_says(api_schema, known):
    # given: the schema's links (enrol -> read, purchase -> refund, redeem -> cancel)
    found: list[BaseException] = []

    class Workflow(api_schema.as_state_machine()):
        def setup(self):
            self.savepoint = transaction.savepoint()

        def teardown(self):
            try:
                assert_ledger_invariants()
            except AssertionError as exc:
                found.append(exc)
                raise
            finally:
                transaction.savepoint_rollback(self.savepoint)

        def before_call(self, case):
            bodies = [case.body] if isinstance(case.body, dict) else []
            if bodies and isinstance(case.body.get("purchases"), list):
                bodies += [body for body in case.body["purchases"] if isinstance(body, dict)]
            for body in bodies:
                if "member_number" in body:
                    number = str(body["member_number"])
                    exists = number.isdigit() and len(number) < 20
                    if not (exists and Member.objects.filter(member_number=number).exists()):
                        body["member_number"] = known.member_numbers[0]
                if "currency" in body:
                    body["currency"] = "EUR"

        def get_call_kwargs(self, case):
            return {"headers": _valid_headers(known, case)}

        def call(self, case, **kwargs):
            try:
                return super().call(case, **kwargs)
            except Exception as exc:  # an error no check sees (it escaped the application)
                found.append(exc)
                raise

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
            except FailureGroup as exc:
                found.append(exc)
                raise

    # when: workflows run (no shrinking: shrinking a failed workflow replays it for minutes)
    try:
        Workflow.run(
            settings=settings(
                max_examples=25,
                stateful_step_count=8,
                phases=[Phase.explicit, Phase.generate],
                **HYPOTHESIS,
            )
        )
    except Flaky as flaky:
        # A failure that did not come back when Hypothesis replayed it is still a failure: fail
        # with what was seen (a check's failure, or an error that escaped the application, both
        # kept in `found`), else with the Flaky error itself. Never pass.
        if found:
            raise found[0] from flaky
        raise
    # then: every step of every workflow answered as documented
    assert not found


def _call(api_schema, known, label, idempotency_key=None, **parts):
    operation = api_schema.find_operation_by_label(label)
    case = operation.Case(**parts)
    headers = _valid_headers(known, case)
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return case.call_and_validate(headers=headers, checks=CHECKS)


def test_each_operation_succeeds_for_things_that_exist(api_schema, known):
    # given: members, a purchase, redemptions and vouchers that exist
    number = known.member_numbers[0]
    # when: one valid call per operation / then: a success that matches the schema
    statuses = {
        "enroll": _call(
            api_schema,
            known,
            "POST /api/v1/members/",
            body={"email": "new.member@example.com", "first_name": "Nora", "language": "da"},
        ).status_code,
        "retrieve": _call(
            api_schema,
            known,
            "GET /api/v1/members/{member_number}/",
            path_parameters={"member_number": number},
        ).status_code,
        "ledger": _call(
            api_schema,
            known,
            "GET /api/v1/members/{member_number}/ledger/",
            path_parameters={"member_number": number},
            query={"page_size": 2},
        ).status_code,
        "referrals": _call(
            api_schema,
            known,
            "GET /api/v1/members/{member_number}/referrals/",
            path_parameters={"member_number": number},
        ).status_code,
        "purchase": _call(
            api_schema,
            known,
            "POST /api/v1/purchases/",
            body={
                "member_number": number,
                "external_id": "EXPLICIT-1",
                "amount": "19.99",
                "currency": "EUR",
                "lines": [
                    {"sku": "LATTE", "quantity": 2, "amount": "7.00", "category": "coffee"},
                    {"sku": "CROISSANT", "amount": "12.99"},
                ],
            },
        ).status_code,
        "purchase_batch": _call(
            api_schema,
            known,
            "POST /api/v1/purchases/batch/",
            body={
                "purchases": [
                    {
                        "member_number": number,
                        "external_id": "EXPLICIT-B-1",
                        "amount": "4.20",
                        "currency": "EUR",
                        "lines": [{"sku": "TEA", "amount": "4.20", "category": "tea"}],
                    },
                    {
                        "member_number": "000000000",
                        "external_id": "EXPLICIT-B-2",
                        "amount": "1.00",
                        "currency": "EUR",
                    },
                    {
                        "member_number": number,
                        "external_id": "EXPLICIT-1",
                        "amount": "19.99",
                        "currency": "EUR",
                    },
                    {
                        "member_number": number,
                        "external_id": known.purchases[0],
                        "amount": "42.50",
                        "currency": "EUR",
                    },
                ]
            },
        ).status_code,
        "refund": _call(
            api_schema,
            known,
            "POST /api/v1/purchases/{external_id}/refunds/",
            path_parameters={"external_id": known.purchases[0]},
            body={"external_id": "EXPLICIT-R-1", "amount": "10.00"},
        ).status_code,
        "rewards": _call(
            api_schema,
            known,
            "GET /api/v1/rewards/",
            query={"member_number": number, "language": "lt"},
        ).status_code,
        "redeem": _call(
            api_schema,
            known,
            "POST /api/v1/redemptions/",
            body={"member_number": number, "reward": known.reward},
        ).status_code,
        "cancel": _call(
            api_schema,
            known,
            "POST /api/v1/redemptions/{redemption_id}/cancel/",
            path_parameters={"redemption_id": known.redemptions[0]},
        ).status_code,
        "use": _call(
            api_schema,
            known,
            "POST /api/v1/vouchers/{code}/use/",
            path_parameters={"code": known.vouchers[1]},
        ).status_code,
    }
    filed = _call(
        api_schema,
        known,
        "POST /api/v1/feedback/",
        body={
            "member_number": number,
            "kind": "complaint",
            "category": "products",
            "text": "The croissant was stale.",
            "purchase_external_id": known.purchases[0],
        },
    )
    statuses["feedback"] = filed.status_code
    statuses["feedback_item"] = _call(
        api_schema,
        known,
        "GET /api/v1/feedback/{item_id}/",
        path_parameters={"item_id": filed.json()["id"]},
    ).status_code
    assert statuses == {
        "enroll": 201,
        "retrieve": 200,
        "ledger": 200,
        "referrals": 200,
        "purchase": 201,
        "purchase_batch": 200,
        "refund": 201,
        "rewards": 200,
        "redeem": 201,
        "cancel": 200,
        "use": 200,
        "feedback": 201,
        "feedback_item": 200,
    }


def test_post_to_an_identifier_outside_the_url_pattern_is_a_documented_404(api_schema, known):
    # given: a redemption id that is not a number, so no URL pattern matches
    # when
    response = _call(
        api_schema,
        known,
        "POST /api/v1/redemptions/{redemption_id}/cancel/",
        path_parameters={"redemption_id": "not-a-number"},
    )
    # then: the catch-all answers a problem, not Django's HTML CSRF page
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_refund_of_a_purchase_id_with_a_slash_answers_as_documented(api_schema, known):
    # given: a purchase whose id holds slashes, as invoice numbers often do
    _call(
        api_schema,
        known,
        "POST /api/v1/purchases/",
        body={
            "member_number": known.member_numbers[0],
            "external_id": "INV/2025/0001",
            "amount": "10.00",
            "currency": "EUR",
        },
    )
    # when: its refund is asked for (the id is percent-encoded in the path)
    response = _call(
        api_schema,
        known,
        "POST /api/v1/purchases/{external_id}/refunds/",
        path_parameters={"external_id": "INV/2025/0001"},
        body={"external_id": "INV/2025/0001-R"},
    )
    # then: a documented answer (call_and_validate checked status, type and body)
    assert response.status_code in {201, 404}


def test_the_largest_purchase_the_schema_allows_answers_as_documented(api_schema, known):
    # given: the largest amount the schema's pattern and the service accept
    # when
    response = _call(
        api_schema,
        known,
        "POST /api/v1/purchases/",
        body={
            "member_number": known.member_numbers[0],
            "external_id": "BIG-1",
            "amount": "9999999999.99",
            "currency": "EUR",
        },
    )
    # then: recorded or refused with a problem, never a 500 (points outgrowing a column)
    assert response.status_code in {201, 422}


def test_replayed_answers_match_the_schema_too(api_schema, known):
    # given: a purchase and a refusal, each under its own Idempotency-Key
    purchase = {
        "member_number": known.member_numbers[1],
        "external_id": "REPLAY-1",
        "amount": "5.00",
        "currency": "EUR",
    }
    unknown_member = {**purchase, "member_number": "000000000", "external_id": "REPLAY-2"}
    label = "POST /api/v1/purchases/"
    first = _call(api_schema, known, label, idempotency_key="replay-1", body=purchase)
    refused = _call(api_schema, known, label, idempotency_key="replay-2", body=unknown_member)
    # when: both are sent again, and the first key with another body
    again = _call(api_schema, known, label, idempotency_key="replay-1", body=purchase)
    refused_again = _call(api_schema, known, label, idempotency_key="replay-2", body=unknown_member)
    reused = _call(
        api_schema, known, label, idempotency_key="replay-1", body={**purchase, "amount": "6.00"}
    )
    # then: the stored answers come back as they were, and the reuse is a documented problem
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == ["true"]
    assert (refused.status_code, refused_again.status_code) == (404, 404)
    assert refused_again.json() == refused.json()
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"
