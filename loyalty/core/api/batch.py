"""Partner API: POST /api/v1/purchases/batch/, up to 1,000 purchases in one request.

For a till catching up after being offline. One request authenticates once, claims one
Idempotency-Key and runs one transaction; each purchase in it is validated by PurchaseInput
and recorded by loyalty.core.purchase_batch, exactly as POST /api/v1/purchases/ would, and
answers for itself. The batch answers 200 whenever its envelope is valid, whatever became of
its purchases: each result has its own status (docs/ARCHITECTURE.md, "Purchases in a batch").
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
from loyalty.core.errors import BatchSizeInvalid
from loyalty.core.purchase_batch import (
    BATCH_MAX,
    BatchOutcome,
    BatchPurchase,
    purchases_record_batch,
)

from .base import IDEMPOTENCY_HEADER, PartnerAPIView
from .purchases import PurchaseInput, PurchaseOutput, purchase_body, recorded_purchase_body


class PurchaseBatchInput(serializers.Serializer):
    """Up to 1,000 purchases, each as POST /api/v1/purchases/ takes it; one that is not valid
    is refused alone."""

    # (The view checks the list, then each purchase with PurchaseInput, one by one.)

    purchases = serializers.ListField(
        child=PurchaseInput(), min_length=1, max_length=BATCH_MAX, help_text="In the order made."
    )


class PurchaseBatchResult(serializers.Serializer):
    index = serializers.IntegerField(help_text="The purchase's position in `purchases`, from 0.")
    status = serializers.IntegerField(
        min_value=200,
        max_value=599,
        help_text="201: recorded now; 200: recorded before (`existing`); else the problem's "
        "status, as POST /api/v1/purchases/ would answer it.",
    )
    existing = serializers.BooleanField(
        required=False,
        help_text="With a purchase: true when this partner had recorded this purchase id before "
        "(the same member, amount and currency), so nothing was recorded now.",
    )
    purchase = PurchaseOutput(required=False, help_text="For 200 and 201.")
    problem = ProblemSerializer(required=False, help_text="For a purchase refused.")


class PurchaseBatchOutput(serializers.Serializer):
    recorded = serializers.IntegerField(help_text="Purchases recorded now (201).")
    existing = serializers.IntegerField(help_text="Purchases recorded before (200).")
    refused = serializers.IntegerField(help_text="Purchases refused (a problem each).")
    results = PurchaseBatchResult(many=True, help_text="One per purchase sent, in order.")


class PurchaseBatchView(PartnerAPIView):
    required_scope = ApiScope.PURCHASES

    @extend_schema(
        operation_id="purchases_record_batch",
        summary="Record up to 1,000 purchases at once (a till catching up)",
        parameters=[IDEMPOTENCY_HEADER],
        request=PurchaseBatchInput,
        responses={200: PurchaseBatchOutput, **problems(403, 409, post=True)},
        description="Each purchase is checked, recorded and answered exactly as by POST "
        "/api/v1/purchases/, in the order sent, each on its own: one refused never affects "
        "the others. The batch answers 200 with a result per purchase: 201 recorded now, 200 "
        "recorded before (`existing`: the same purchase id, member, amount and currency, sent "
        "again by an earlier batch or alone), or its problem (409 duplicate_purchase for an id "
        "recorded with other values, 409 duplicate_in_batch for an id sent twice in the batch, "
        "404 member_not_found, 400 invalid_request...). An empty batch or more than 1,000 "
        "purchases: 400 invalid_batch_size. The Idempotency-Key covers the whole batch.",
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
        items = _purchases(request.data)
        results: list[dict | None] = [None] * len(items)
        valid: list[BatchPurchase] = []
        positions: list[int] = []
        for index, item in enumerate(items):
            try:
                values = validated_input(PurchaseInput, item)
            except ValidationError as exc:
                results[index] = _refused(index, exc)
                continue
            valid.append(_batch_purchase(values))
            positions.append(index)
        outcomes = purchases_record_batch(
            partner=self.partner, purchases=valid, savepoint=savepoint
        )
        for index, outcome in zip(positions, outcomes, strict=True):
            results[index] = _result(index, outcome)
        statuses = [result["status"] for result in results]
        body = {
            "recorded": statuses.count(201),
            "existing": statuses.count(200),
            "refused": sum(1 for code in statuses if code >= 400),
            "results": results,
        }
        return Response(body)


def _purchases(data) -> list:
    """The envelope's list of purchases, 1 to BATCH_MAX of them (each checked later)."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("Send an object with a list of purchases.")]})
    items = data.get("purchases")
    if not isinstance(items, list):
        raise ValidationError({"purchases": [_("A list of purchases is required.")]})
    if not 1 <= len(items) <= BATCH_MAX:
        raise BatchSizeInvalid(most=BATCH_MAX)
    return items


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


def _refused(index: int, exc: Exception) -> dict:
    """The problem POST /api/v1/purchases/ would answer for this error."""
    answer = exception_handler(exc, {})
    return {"index": index, "status": answer.status_code, "problem": answer.data}
