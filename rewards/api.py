"""Partner API: the reward catalogue, redemptions and vouchers."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import ApiScope
from accounts.services import member_by_number
from loyalty.base.api.fields import StrictCharField, StrictChoiceField
from loyalty.base.api.serializers import problems
from loyalty.base.languages import LANGUAGE_CODES
from loyalty.core.api.base import IDEMPOTENCY_HEADER, PartnerAPIView, link
from loyalty.core.api.serializers import MemberBriefSerializer, member_brief

from . import services
from .errors import RedemptionNotFound, RewardNotFound
from .models import Redemption, Reward


class RewardSerializer(serializers.Serializer):
    code = serializers.CharField(source="slug")
    name = serializers.CharField()
    description = serializers.CharField()
    kind = serializers.CharField()
    value = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    points_cost = serializers.IntegerField(help_text="The cost before any tier discount.")
    member_points_cost = serializers.IntegerField(
        allow_null=True, help_text="What the member given by ?member_number= pays."
    )
    stock = serializers.IntegerField(allow_null=True, help_text="Null means unlimited.")
    min_tier = serializers.CharField(allow_null=True, source="min_tier.code", default=None)
    voucher_valid_days = serializers.IntegerField()
    image_url = serializers.CharField(allow_null=True)


class RewardListQuery(serializers.Serializer):
    member_number = StrictCharField(required=False, allow_blank=True)
    language = StrictChoiceField(choices=LANGUAGE_CODES, required=False)


class RewardListView(PartnerAPIView):
    required_scope = ApiScope.READ

    @extend_schema(
        operation_id="rewards_list",
        summary="The rewards available now",
        parameters=[
            OpenApiParameter(
                "member_number",
                OpenApiTypes.STR,
                description="Also give the cost this member pays after their tier discount.",
            ),
            OpenApiParameter(
                "language",
                OpenApiTypes.STR,
                enum=list(LANGUAGE_CODES),
                description="The language of names and descriptions (default: English). "
                "Another value is refused with 400 invalid_request.",
            ),
        ],
        responses={200: RewardSerializer(many=True), **problems(400, 404)},
    )
    def get(self, request):
        query = RewardListQuery(data=request.query_params.dict())  # (a QueryDict drops "")
        query.is_valid(raise_exception=True)
        member = None
        if query.validated_data.get("member_number"):
            member = member_by_number(query.validated_data["member_number"])
        language = query.validated_data.get("language")
        rewards = [
            r
            for r in Reward.objects.filter(is_active=True).select_related("min_tier")
            if r.is_available()
        ]
        for reward in rewards:
            if language:
                reward.name_display = reward.localized("name", language)
            reward.member_points_cost = (
                services.member_cost(reward=reward, member=member) if member else None
            )
            reward.image_url = (
                request.build_absolute_uri(reward.image.url) if reward.image else None
            )
        data = RewardSerializer(rewards, many=True).data
        if language:
            for item, reward in zip(data, rewards, strict=True):
                item["name"] = reward.localized("name", language)
                item["description"] = reward.localized("description", language)
        return Response(data)


class RedemptionInput(serializers.Serializer):
    member_number = StrictCharField(max_length=20)
    reward = StrictCharField(
        max_length=64, pattern=r"^[-a-zA-Z0-9_]+$", help_text="The reward's code."
    )


class RedemptionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    reward = serializers.CharField()
    voucher_code = serializers.CharField()
    points_spent = serializers.IntegerField()
    expires_on = serializers.DateField()
    status = serializers.CharField()
    member = MemberBriefSerializer()


def redemption_body(redemption: Redemption, member) -> dict:
    return RedemptionOutput(
        {
            "id": redemption.pk,
            "reward": redemption.reward.slug,
            "voucher_code": redemption.voucher.display_code,
            "points_spent": redemption.points_spent,
            "expires_on": redemption.voucher.expires_on,
            "status": redemption.status,
            "member": member_brief(member),
        }
    ).data


class RedemptionView(PartnerAPIView):
    required_scope = ApiScope.REDEMPTIONS
    schema_links = {
        "CancelRedemption": link(
            "redemptions_cancel",
            "Cancel it while the voucher is unused.",
            parameters={"path.redemption_id": "$response.body#/id"},
        ),
        "UseVoucher": link(
            "vouchers_use",
            "Use its voucher at the till.",
            parameters={"path.code": "$response.body#/voucher_code"},
        ),
        "GetMember": link(
            "members_retrieve",
            "The member, with the points spent.",
            parameters={"path.member_number": "$response.body#/member/member_number"},
        ),
    }

    @extend_schema(
        operation_id="redemptions_create",
        summary="Spend a member's points on a reward and issue a voucher",
        parameters=[IDEMPOTENCY_HEADER],
        request=RedemptionInput,
        responses={201: RedemptionOutput, **problems(403, 404, 409, post=True)},
        description="A short balance is refused with 422 insufficient_points, an empty stock "
        "with 409 out_of_stock.",
    )
    def post(self, request, *args, **kwargs):
        return self.run_idempotent(request, lambda: self.create(request, *args, **kwargs))

    def create(self, request, *args, **kwargs):
        data = RedemptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_by_number(data.validated_data["member_number"])
        reward = Reward.objects.filter(slug=data.validated_data["reward"]).first()
        if reward is None:
            raise RewardNotFound()
        redemption = services.reward_redeem(member=member, reward=reward, partner=self.partner)
        return Response(redemption_body(redemption, member), status=status.HTTP_201_CREATED)


class RedemptionCancelView(PartnerAPIView):
    required_scope = ApiScope.REDEMPTIONS

    @extend_schema(
        operation_id="redemptions_cancel",
        summary="Cancel a redemption whose voucher is unused; the points come back",
        parameters=[IDEMPOTENCY_HEADER],
        request=None,
        responses={200: RedemptionOutput, **problems(404, 409, post=True)},
    )
    def post(self, request, *args, **kwargs):
        return self.run_idempotent(request, lambda: self.create(request, *args, **kwargs))

    def create(self, request, redemption_id: int, *args, **kwargs):
        redemption = (
            Redemption.objects.select_related("member", "reward")
            .filter(pk=redemption_id, partner=self.partner)
            .first()
        )
        if redemption is None:
            raise RedemptionNotFound()
        redemption = services.redemption_cancel(
            redemption=redemption, reason="Cancelled by partner"
        )
        member = redemption.member
        member.refresh_from_db(fields=["points_balance", "tier"])
        return Response(redemption_body(redemption, member))


class VoucherUseOutput(serializers.Serializer):
    code = serializers.CharField()
    status = serializers.CharField()
    reward = serializers.CharField()
    member_number = serializers.CharField()
    used_at = serializers.DateTimeField()


class VoucherUseView(PartnerAPIView):
    required_scope = ApiScope.VOUCHERS

    @extend_schema(
        operation_id="vouchers_use",
        summary="Use a voucher at the till, exactly once",
        parameters=[IDEMPOTENCY_HEADER],
        request=None,
        responses={200: VoucherUseOutput, **problems(404, 409, 422, post=True)},
        description="A voucher used before is refused with 409 voucher_already_used; an expired "
        "or cancelled one with 409 voucher_expired or voucher_cancelled; a closed member's "
        "with 422 member_not_active.",
    )
    def post(self, request, *args, **kwargs):
        return self.run_idempotent(request, lambda: self.create(request, *args, **kwargs))

    def create(self, request, code: str, *args, **kwargs):
        voucher = services.voucher_use(code=code, partner=self.partner)
        redemption = voucher.redemption
        body = {
            "code": voucher.display_code,
            "status": voucher.status,
            "reward": redemption.reward.slug,
            "member_number": redemption.member.member_number,
            "used_at": voucher.used_at,
        }
        return Response(VoucherUseOutput(body).data)
