"""Partner API: POST /api/v1/purchases/batch/, up to 1,000 purchases in one request.

For a till catching up after being offline. One request authenticates once, claims one
Idempotency-Key and runs one transaction. The batch is validated whole against its schema
(PurchaseBatchInput: each purchase as PurchaseInput takes it): one purchase that breaks it
refuses the batch with 400 invalid_request and nothing is recorded. A well-formed batch is
recorded by loyalty.core.purchase_batch, each purchase exactly as POST /api/v1/purchases/ would
record it, and answers 200 with a result per purchase: recorded, recorded before, or refused by
a rule of the program (docs/ARCHITECTURE.md, "Purchases in a batch").
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from accounts.models import ApiScope
from loyalty.base.api.problems import exception_handler
from loyalty.base.api.serializers import ProblemSerializer, problems, validated_input
from loyalty.base.errors import LoyaltyError
from loyalty.core.errors import BatchSizeInvalid
from loyalty.core.purchase_batch import (
    BATCH_MAX,
    BatchOutcome,
    BatchPurchase,
    purchases_record_batch,
)

from .base import IDEMPOTENCY_HEADER, PartnerAPIView, link
from .purchases import PurchaseInput, PurchaseOutput, purchase_body, recorded_purchase_body


class PurchaseBatchInput(serializers.Serializer):
    """1 to 1,000 purchases, each exactly as POST /api/v1/purchases/ takes it. A batch with a
    purchase that breaks this schema is refused whole with 400 invalid_request, nothing
    recorded; its `errors` name each such purchase by its index in `purchases`, then by field:
    {"purchases": {"2": {"amount": ["..."]}, "7": {"non_field_errors": ["..."]}}}."""

    purchases = serializers.ListField(
        child=PurchaseInput(), min_length=1, max_length=BATCH_MAX, help_text="In the order made."
    )


class PurchaseBatchResult(serializers.Serializer):
    index = serializers.IntegerField(help_text="The purchase's position in `purchases`, from 0.")
    status = serializers.IntegerField(
        min_value=200,
        max_value=599,
        help_text="201: recorded now; 200: recorded before (`existing`); else the status of the "
        "problem refusing it (404, 409 or 422), as POST /api/v1/purchases/ would answer it.",
    )
    existing = serializers.BooleanField(
        required=False,
        help_text="With a purchase: true when this partner had recorded this purchase id before "
        "(the same member, amount and currency), so nothing was recorded now.",
    )
    purchase = PurchaseOutput(required=False, help_text="For 200 and 201.")
    problem = ProblemSerializer(
        required=False, help_text="For a purchase refused by a rule of the program."
    )


class PurchaseBatchOutput(serializers.Serializer):
    recorded = serializers.IntegerField(help_text="Purchases recorded now (201).")
    existing = serializers.IntegerField(help_text="Purchases recorded before (200).")
    refused = serializers.IntegerField(help_text="Purchases refused (a problem each).")
    results = PurchaseBatchResult(many=True, help_text="One per purchase sent, in order.")


FIRST = "$response.body#/results/0/purchase"  # (unresolved when the first was refused)


class PurchaseBatchView(PartnerAPIView):
    required_scope = ApiScope.PURCHASES
    schema_links = {
        "RefundFirstPurchase": link(
            "purchases_refund",
            "A refund of (part of) the batch's first purchase, when it was recorded.",
            parameters={"path.external_id": f"{FIRST}/external_id"},
        ),
        "GetFirstBuyer": link(
            "members_retrieve",
            "The buyer of the batch's first purchase, when it was recorded.",
            parameters={"path.member_number": f"{FIRST}/member/member_number"},
        ),
    }

    @extend_schema(
        operation_id="purchases_record_batch",
        summary="Record up to 1,000 purchases at once (a till catching up)",
        parameters=[IDEMPOTENCY_HEADER],
        request=PurchaseBatchInput,
        responses={200: PurchaseBatchOutput, **problems(403, 409, post=True)},
        description="The batch is checked whole against this schema first: an empty batch or "
        "more than 1,000 purchases is refused with 400 invalid_batch_size, and a purchase that "
        "breaks the schema of POST /api/v1/purchases/ (a missing field, a value of another type "
        "or form, an amount with three decimals, a currency outside the list...) refuses the "
        "whole batch with 400 invalid_request, nothing recorded; its `errors` name each such "
        "purchase by its index, then its fields, e.g. "
        '`{"purchases": {"2": {"amount": ["..."]}}}`. A well-formed batch answers 200 with a '
        "result per purchase, in the order sent, each recorded and answered exactly as by "
        "POST /api/v1/purchases/, on its own: one refused never affects the others. A result "
        "is 201 recorded now, 200 recorded before (`existing`: the same purchase id, member, "
        "amount and currency, sent again by an earlier batch or alone), or the problem a rule "
        "of the program refused it with (404 member_not_found, 409 duplicate_purchase for an "
        "id recorded with other values, 409 duplicate_in_batch for an id sent twice in the "
        "batch, 422 member_not_active, currency_mismatch, invalid_purchase, "
        "purchase_amount_over_limit...). The Idempotency-Key covers the whole batch.",
        examples=[
            OpenApiExample(
                "Two purchases",
                request_only=True,
                value={
                    "purchases": [
                        {
                            "member_number": "123456782",
                            "external_id": "till-7-0001",
                            "amount": "12.50",
                            "currency": "EUR",
                            "occurred_at": "2026-12-01T09:30:00+02:00",
                        },
                        {
                            "member_number": "123456782",
                            "external_id": "till-7-0002",
                            "amount": "3.20",
                            "currency": "EUR",
                            "occurred_at": "2026-12-01T09:41:00+02:00",
                        },
                    ]
                },
            )
        ],
    )
    def post(self, request, *args, **kwargs):
        return self.run_idempotent(
            request,
            lambda: self.record(request),
            # Without savepoints first: a batch whose purchases are all recorded or refused
            # before writing takes two statements a purchase (IdempotentRun).
            without_savepoint=lambda: self.record(request, savepoint=False),
        )

    def record(self, request, *, savepoint: bool = True) -> Response:
        _check_envelope(request.data)
        values = validated_input(PurchaseBatchInput, request.data)  # 400 for any bad purchase
        purchases = [_batch_purchase(item) for item in values["purchases"]]
        outcomes = purchases_record_batch(
            partner=self.partner, purchases=purchases, savepoint=savepoint
        )
        results = [_result(index, outcome) for index, outcome in enumerate(outcomes)]
        statuses = [result["status"] for result in results]
        body = {
            "recorded": statuses.count(201),
            "existing": statuses.count(200),
            "refused": sum(1 for code in statuses if code >= 400),
            "results": results,
        }
        return Response(body)


def _check_envelope(data) -> None:
    """An object with a list of 1 to BATCH_MAX purchases, checked before any purchase is: a
    batch too large is refused as such, not for what its purchases hold."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("Send an object with a list of purchases.")]})
    items = data.get("purchases")
    if not isinstance(items, list):
        raise ValidationError({"purchases": [_("A list of purchases is required.")]})
    if not 1 <= len(items) <= BATCH_MAX:
        raise BatchSizeInvalid(most=BATCH_MAX)


def _batch_purchase(values: dict) -> BatchPurchase:
    return BatchPurchase(
        member_number=values["member_number"],
        external_id=values["external_id"],
        amount=values["amount"],
        currency=values["currency"],
        occurred_at=values.get("occurred_at"),
        lines=[dict(line) for line in values.get("lines", [])] or None,
        payment_fingerprint=values.get("payment_fingerprint") or None,
    )


def _result(index: int, outcome: BatchOutcome) -> dict:
    if outcome.result is not None:
        body = purchase_body(outcome.result, outcome.member)
        return {"index": index, "status": 201, "existing": False, "purchase": body}
    if outcome.existing is not None:
        body = recorded_purchase_body(outcome.existing, outcome.member)
        return {"index": index, "status": 200, "existing": True, "purchase": body}
    return _refused(index, outcome.error)


def _refused(index: int, exc: LoyaltyError) -> dict:
    """The problem POST /api/v1/purchases/ would answer for this refusal."""
    answer = exception_handler(exc, {})
    return {"index": index, "status": answer.status_code, "problem": answer.data}
