"""Partner API: purchases and refunds."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import ApiScope
from loyalty.base.api.fields import (
    MoneyField,
    StrictCharField,
    StrictChoiceField,
    StrictDateTimeField,
    StrictIntegerField,
)
from loyalty.base.api.serializers import problems, validated_input
from loyalty.base.money import CURRENCIES
from loyalty.core.buyer import member_for_purchase
from loyalty.core.earning import explain_text as explain_purchase
from loyalty.core.errors import PurchaseNotFound
from loyalty.core.models import Purchase
from loyalty.core.pending_models import PendingPoints
from loyalty.core.purchases import (
    PurchaseResult,
    purchase_record,
    purchase_record_without_savepoint,
)
from loyalty.core.refunds import explain_text, purchase_refund

from .base import IDEMPOTENCY_HEADER, PartnerAPIView, link
from .serializers import MemberBriefSerializer, member_brief

MONEY = {"max_digits": 12, "decimal_places": 2, "coerce_to_string": True}  # (answers)


class PurchaseLineInput(serializers.Serializer):
    sku = StrictCharField(max_length=64, not_blank=True)
    quantity = StrictIntegerField(min_value=1, max_value=999_999, default=1)
    amount = MoneyField(min_value=0)
    category = StrictCharField(max_length=64, required=False, allow_blank=True)


class PurchaseInput(serializers.Serializer):
    member_number = StrictCharField(max_length=20)
    external_id = StrictCharField(max_length=100, not_blank=True)
    amount = MoneyField()
    currency = StrictChoiceField(
        choices=sorted(CURRENCIES),
        help_text="ISO 4217; a currency other than the partner's is refused with 422 "
        "currency_mismatch.",
    )
    occurred_at = StrictDateTimeField(
        required=False,
        help_text="When the purchase happened (default: now): not in the future, and at most "
        "LOYALTY_PURCHASE_MAX_AGE_DAYS (90 by default) days ago, else 422 invalid_purchase.",
    )
    lines = PurchaseLineInput(
        many=True,
        required=False,
        max_length=500,
        help_text="Their amounts add up to the purchase's amount, else 422 invalid_purchase.",
    )
    payment_fingerprint = StrictCharField(
        max_length=128,
        required=False,
        allow_blank=True,
        help_text="An opaque token of the means of payment (e.g. your payment processor's card "
        "fingerprint), never a card number. Used to keep members from referring themselves.",
    )


class PurchaseOutput(serializers.Serializer):
    external_id = serializers.CharField()
    points_earned = serializers.IntegerField()
    points_pending = serializers.IntegerField(
        help_text="Of points_earned, those that wait out the partner's return window: not "
        "spendable until available_on (0 when the points are available at once)."
    )
    available_on = serializers.DateField(
        allow_null=True, help_text="The day pending points become available (null: none)."
    )
    explanation = serializers.CharField(help_text="Which rules fired and why, in words.")
    rules = serializers.ListField(
        child=serializers.DictField(), help_text="The same, part by part, for display."
    )
    member = MemberBriefSerializer()


BUYER = {"path.member_number": "$response.body#/member/member_number"}


class PurchaseView(PartnerAPIView):
    required_scope = ApiScope.PURCHASES
    schema_links = {
        "RefundPurchase": link(
            "purchases_refund",
            "A refund of (part of) this purchase.",
            parameters={"path.external_id": "$response.body#/external_id"},
        ),
        "GetMember": link("members_retrieve", "The member, with the points.", parameters=BUYER),
    }

    @extend_schema(
        operation_id="purchases_record",
        summary="Record a purchase and earn points",
        parameters=[IDEMPOTENCY_HEADER],
        request=PurchaseInput,
        responses={201: PurchaseOutput, **problems(403, 404, 409, post=True)},
        description="The same external_id from the same partner under another Idempotency-Key "
        "is refused with 409 duplicate_purchase.",
    )
    def post(self, request, *args, **kwargs):
        return self.run_idempotent(
            request,
            lambda: self.create(request),
            # create() writes nothing before purchase_record, the one atomic service it calls, so
            # it may first run without any savepoint (IdempotentRun).
            without_savepoint=lambda: self.create(request, savepoint=False),
        )

    def create(self, request, *, savepoint: bool = True):
        values = validated_input(PurchaseInput, request.data)
        return purchase_answer(self.partner, values, savepoint=savepoint)


def purchase_answer(partner, values: dict, *, savepoint: bool = True) -> Response:
    """Record a validated PurchaseInput for the partner: the 201 answer, or the service's refusal
    raised. The view and the purchase lane (loyalty.core.api.lane) both answer with it.
    `savepoint=False` records with purchase_record_without_savepoint (IdempotentRun's first
    pass)."""
    buyer = member_for_purchase(values["member_number"])
    record = purchase_record if savepoint else purchase_record_without_savepoint
    result = record(
        partner=partner,
        member=buyer,
        external_id=values["external_id"],
        amount=values["amount"],
        currency=values["currency"],
        occurred_at=values.get("occurred_at"),
        lines=[dict(line) for line in values.get("lines", [])] or None,
        payment_fingerprint=values.get("payment_fingerprint") or None,
    )
    return Response(purchase_body(result, buyer.member), status=status.HTTP_201_CREATED)


def purchase_body(result: PurchaseResult, member) -> dict:
    """A PurchaseOutput: what a purchase recorded now answers (alone or in a batch)."""
    held = result.pending
    return {
        "external_id": result.purchase.external_id,
        "points_earned": result.points,
        "points_pending": held.points if held is not None else 0,
        "available_on": held.available_on.isoformat() if held is not None else None,
        "explanation": result.explanation_text,
        "rules": result.explanation,
        "member": member_brief(member),
    }


def recorded_purchase_body(purchase: Purchase, member) -> dict:
    """The same PurchaseOutput for a purchase recorded before (a batch sending it again)."""
    held = PendingPoints.objects.filter(purchase=purchase).first()
    return {
        "external_id": purchase.external_id,
        "points_earned": purchase.points_earned,
        "points_pending": held.points if held is not None else 0,
        "available_on": held.available_on.isoformat() if held is not None else None,
        "explanation": explain_purchase(purchase.explanation, purchase.points_earned),
        "rules": purchase.explanation,
        "member": member_brief(member),
    }


class RefundLineInput(serializers.Serializer):
    sku = StrictCharField(
        max_length=64,
        not_blank=True,
        help_text="A SKU of the purchase's lines; another is refused with 422 invalid_purchase.",
    )
    quantity = StrictIntegerField(min_value=1, max_value=999_999)


class RefundInput(serializers.Serializer):
    """A refund of an amount or of lines, never both; with neither, of the whole purchase."""

    external_id = StrictCharField(max_length=100, not_blank=True)
    amount = MoneyField(required=False)
    lines = RefundLineInput(many=True, required=False, min_length=1, max_length=500)

    def validate(self, attrs):
        if "amount" in attrs and "lines" in attrs:
            raise serializers.ValidationError(_("Give an amount or lines, not both."))
        return attrs


class RefundInputSchema(OpenApiSerializerExtension):
    """RefundInput's "never both", in the schema."""

    target_class = RefundInput

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_serializer(self.target, direction, bypass_extensions=True)
        return {**schema, "not": {"required": ["amount", "lines"]}}


class RefundOutput(serializers.Serializer):
    external_id = serializers.CharField()
    amount = serializers.DecimalField(**MONEY)
    points_reversed = serializers.IntegerField()
    points_unrecovered = serializers.IntegerField()
    points_cancelled = serializers.IntegerField(
        required=False,
        help_text="Points still pending in the return window that this refund cancelled (not "
        "taken from the balance); present only when there were some.",
    )
    explanation = serializers.CharField(help_text="Why these points were taken back, in words.")
    rules = serializers.ListField(
        child=serializers.DictField(),
        help_text="The same, part by part: per refunded line what it earned at the purchase "
        "(rate, offer, tier multiplier), or the purchase's points in proportion to money.",
    )
    member = MemberBriefSerializer()


class RefundView(PartnerAPIView):
    required_scope = ApiScope.PURCHASES
    schema_links = {
        "GetMember": link("members_retrieve", "The member, points taken back.", parameters=BUYER),
    }

    @extend_schema(
        operation_id="purchases_refund",
        summary="Refund (part of) a purchase and take back its points",
        parameters=[IDEMPOTENCY_HEADER],
        request=RefundInput,
        responses={201: RefundOutput, **problems(404, 409, post=True)},
        description="A full refund when neither amount nor lines are given. Refunding more than "
        "was bought is refused with 422 refund_exceeds_purchase.",
    )
    def post(self, request, *args, **kwargs):
        return self.run_idempotent(request, lambda: self.create(request, *args, **kwargs))

    def create(self, request, external_id: str, *args, **kwargs):
        purchase = (
            Purchase.objects.select_related("member__tier")
            .filter(partner=self.partner, external_id=external_id)
            .first()
        )
        if purchase is None:
            raise PurchaseNotFound()
        data = RefundInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        refund = purchase_refund(
            purchase=purchase,
            external_id=values["external_id"],
            amount=values.get("amount"),
            lines=[dict(line) for line in values["lines"]] if "lines" in values else None,
        )
        member = purchase.member
        member.refresh_from_db(fields=["points_balance"])
        body = {
            "external_id": refund.external_id,
            "amount": refund.amount,
            "points_reversed": refund.points_reversed,
            "points_unrecovered": refund.points_unrecovered,
            "explanation": explain_text(
                refund.explanation,
                refund.points_reversed + refund.points_unrecovered + refund.points_cancelled,
            ),
            "rules": refund.explanation,
            "member": member_brief(member),
        }
        if refund.points_cancelled:
            body["points_cancelled"] = refund.points_cancelled
        return Response(RefundOutput(body).data, status=status.HTTP_201_CREATED)
