"""Partner API: a member's referrals (what the member's referral page shows)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers

from accounts.models import ApiScope
from accounts.services import member_by_number
from loyalty.base.api.pagination import PAGE_PARAMETERS, NewestFirstPagination
from loyalty.base.api.serializers import problems
from loyalty.core.api.base import PartnerAPIView

from .selectors import PUBLIC_STATUSES, referral_line, referrals_made


class ReferralLineSerializer(serializers.Serializer):
    friend_first_name = serializers.CharField(
        allow_blank=True, help_text="The friend's first name (may be empty)."
    )
    friend_email = serializers.CharField(
        help_text="The friend's e-mail address, masked (o***@e***.com): enough to recognise, "
        "not to write to."
    )
    status = serializers.ChoiceField(
        choices=PUBLIC_STATUSES,
        help_text="pending (waiting for the friend's qualifying purchase), qualified (bonuses "
        "paid), expired (no qualifying purchase in time), reversed (the qualifying purchase was "
        "refunded and the bonuses taken back), not_eligible.",
    )
    points_earned = serializers.IntegerField(
        help_text="The referrer's bonus for this friend, less what was taken back."
    )
    created_at = serializers.DateTimeField(help_text="When the friend joined with the code.")
    qualified_at = serializers.DateTimeField(allow_null=True)
    qualify_by = serializers.DateField(
        help_text="The last day a qualifying purchase of the friend counts."
    )


class ReferralPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ReferralLineSerializer(many=True)


class MemberReferralsView(PartnerAPIView):
    required_scope = ApiScope.READ

    pagination_class = NewestFirstPagination

    @extend_schema(
        operation_id="members_referrals",
        summary="The friends a member referred, newest first, cursor-paginated",
        description="Each friend with their status and the points the member earned for them. "
        "Friends are shown by first name and a masked e-mail address only.",
        parameters=[
            *PAGE_PARAMETERS,
        ],
        responses={200: ReferralPageSerializer, **problems(400, 404)},
    )
    def get(self, request, member_number: str):
        member = member_by_number(member_number)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(referrals_made(member_id=member.pk), request, view=self)
        lines = [referral_line(referral) for referral in page]
        return paginator.get_paginated_response(ReferralLineSerializer(lines, many=True).data)
