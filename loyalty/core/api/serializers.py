"""The member as a purchase, a refund or a redemption answers with it: number, balance, tier."""

from rest_framework import serializers

from accounts.models import Member


class TierRefSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()


class MemberBriefSerializer(serializers.Serializer):
    member_number = serializers.CharField()
    points_balance = serializers.IntegerField()
    tier = TierRefSerializer(allow_null=True)


def tier_ref(tier) -> dict | None:
    return {"code": tier.code, "name": tier.name} if tier is not None else None


def member_brief(member: Member) -> dict:
    return {
        "member_number": member.member_number,
        "points_balance": member.points_balance,
        "tier": tier_ref(member.tier),
    }
