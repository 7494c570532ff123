"""Shared API output shapes and the problem body, for views and for the OpenAPI schema."""

from rest_framework import serializers

from accounts.models import Member
from loyalty.core import selectors


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="A stable machine code, e.g. insufficient_points.")
    errors = serializers.DictField(required=False, help_text="Field errors, for invalid_request.")
    member_number = serializers.CharField(required=False, help_text="For member_exists.")


class TierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class NextTierSerializer(TierRefSerializer):
    points_needed = serializers.IntegerField()


class ExpiringSerializer(serializers.Serializer):
    points = serializers.IntegerField()
    expires_on = serializers.DateField()


class MemberBriefSerializer(serializers.Serializer):
    member_number = serializers.CharField()
    points_balance = serializers.IntegerField()
    tier = TierRefSerializer(allow_null=True)


class MemberSerializer(serializers.Serializer):
    member_number = serializers.CharField()
    email = serializers.EmailField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()
    language = serializers.CharField()
    points_balance = serializers.IntegerField()
    tier = TierRefSerializer(allow_null=True)
    next_tier = NextTierSerializer(allow_null=True)
    points_expiring = ExpiringSerializer(many=True)
    joined_on = serializers.DateField()
    referral_code = serializers.CharField(
        help_text="The member's code for friends to join with (8 characters)."
    )


def tier_ref(tier) -> dict | None:
    return {"code": tier.code, "name": tier.name} if tier is not None else None


def member_brief(member: Member) -> dict:
    return {
        "member_number": member.member_number,
        "points_balance": member.points_balance,
        "tier": tier_ref(member.tier),
    }


def member_full(member: Member) -> dict:
    from referrals.selectors import referral_code_for

    upcoming = selectors.next_tier(member=member)
    return MemberSerializer(
        {
            "member_number": member.member_number,
            "email": member.user.email,
            "first_name": member.user.first_name,
            "last_name": member.user.last_name,
            "language": member.language,
            "points_balance": member.points_balance,
            "tier": tier_ref(member.tier),
            "next_tier": {
                "code": upcoming["tier"].code,
                "name": upcoming["tier"].name,
                "points_needed": upcoming["points_needed"],
            }
            if upcoming
            else None,
            "points_expiring": selectors.points_expiring(member_id=member.pk),
            "joined_on": member.joined_on,
            "referral_code": referral_code_for(member=member),
        }
    ).data


COMMON_ERRORS = (401, 406, 429)
POST_ERRORS = (400, 401, 406, 413, 415, 422, 429)


def problems(*statuses: int, post: bool = False) -> dict:
    """OpenAPI responses for error statuses, all application/problem+json."""
    codes = set(statuses) | set(POST_ERRORS if post else COMMON_ERRORS)
    return {(code, "application/problem+json"): ProblemSerializer for code in sorted(codes)}
