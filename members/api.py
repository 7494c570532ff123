"""Partner API: enrolling and looking up members, and a member's ledger.

The member resource shows what the program knows of a member, gathered from every floor (the
account, the points and the tier, the referral code), so it stands on the top floor with the
member pages.
"""

from django.utils import translation
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import ApiScope, Member
from accounts.services import BIRTHDAY_FORM
from loyalty.base.api.fields import StrictCharField, StrictChoiceField, StrictEmailField
from loyalty.base.api.pagination import PAGE_PARAMETERS, NewestFirstPagination
from loyalty.base.api.serializers import problems
from loyalty.base.languages import LANGUAGE_CODES
from loyalty.core import pending
from loyalty.core.api.base import IDEMPOTENCY_HEADER, PartnerAPIView, link
from loyalty.core.enrolment import member_enroll
from loyalty.core.models import LedgerEntry
from loyalty.core.wording import LedgerView, entries_word, purchase_words

from .api_ledger import first_page, ledger_lines
from .api_member import MemberSerializer, member_answer, member_full, member_ref


class MemberEnrollInput(serializers.Serializer):
    email = StrictEmailField(max_length=254)
    first_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    last_name = StrictCharField(max_length=150, required=False, allow_blank=True)
    language = StrictChoiceField(choices=LANGUAGE_CODES, required=False)
    birthday = StrictCharField(
        pattern=rf"^(?:{BIRTHDAY_FORM})?$",
        required=False,
        allow_blank=True,
        help_text='"MM-DD" or "YYYY-MM-DD", a day that exists (29 February in leap years when '
        "the year is given). A birthday in the future or over 130 years ago is refused with "
        "422 implausible_birthday.",
    )
    referral_code = StrictCharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="A friend's code; a code no member has is refused with 422 "
        "invalid_referral_code.",
    )


def member_links(number: str) -> dict:
    """Links from an answer that names a member (`number`, a runtime expression) to what a
    partner does next with that member."""
    path = {"path.member_number": number}
    return {
        "GetMember": link("members_retrieve", "The member's balance and tier.", parameters=path),
        "GetLedger": link("members_ledger", "The member's ledger.", parameters=path),
        "GetReferrals": link("members_referrals", "The member's referrals.", parameters=path),
        "ListRewards": link(
            "rewards_list",
            "The rewards, with this member's cost.",
            parameters={"query.member_number": number},
        ),
        "RecordPurchase": link(
            "purchases_record", "A purchase by the member.", body={"member_number": number}
        ),
        "RedeemReward": link(
            "redemptions_create", "A reward for the member.", body={"member_number": number}
        ),
        "FileFeedback": link(
            "feedback_create", "Feedback from the member.", body={"member_number": number}
        ),
    }


class MemberListView(PartnerAPIView):
    required_scope = ApiScope.MEMBERS
    schema_links = member_links("$response.body#/member_number")

    @extend_schema(
        operation_id="members_enroll",
        summary="Enrol a member",
        parameters=[IDEMPOTENCY_HEADER],
        request=MemberEnrollInput,
        responses={201: MemberSerializer, **problems(409, post=True)},
        description="An e-mail already enrolled is refused with 409 member_exists and the "
        "existing member_number; the address of a staff account with 409 email_unavailable.",
    )
    def post(self, request, *args, **kwargs):
        return self.run_idempotent(request, lambda: self.create(request, *args, **kwargs))

    def create(self, request, *args, **kwargs):
        data = MemberEnrollInput(data=request.data)
        data.is_valid(raise_exception=True)
        member = member_enroll(
            email=data.validated_data["email"],
            first_name=data.validated_data.get("first_name", ""),
            last_name=data.validated_data.get("last_name", ""),
            language=data.validated_data.get("language"),
            birthday=data.validated_data.get("birthday") or None,
            referral_code=data.validated_data.get("referral_code") or None,
            partner=self.partner,
        )
        return Response(member_full(member), status=status.HTTP_201_CREATED)


class MemberDetailView(PartnerAPIView):
    required_scope = ApiScope.READ
    schema_links = member_links("$response.body#/member_number")

    @extend_schema(
        operation_id="members_retrieve",
        summary="A member's balance, pending points, tier and expiring points",
        responses={200: MemberSerializer, **problems(404)},
    )
    def get(self, request, member_number: str):
        return Response(member_answer(member_number))


class LedgerLineSerializer(serializers.ModelSerializer):
    """A ledger line as a partner reads it: its words rendered from its kind and cause
    (loyalty.core.wording) in the language asked for. Members are program-wide, but the ids of
    another partner's purchases and refunds are that partner's own: those lines name only the
    partner. Needs the entries worded by `ledger_lines_word`."""

    description = serializers.CharField(
        source="words",
        help_text="What the entry was for, in `?language=` (default: the member's language).",
    )

    class Meta:
        model = LedgerEntry
        fields = ["id", "created_at", "kind", "points", "balance_after", "description"]


_DATETIME = serializers.DateTimeField()


def ledger_line(entry: LedgerEntry) -> dict:
    """A worded entry as LedgerLineSerializer renders it, without its per-line field calls (a
    page is up to 200 lines)."""
    return {
        "id": entry.pk,
        "created_at": _DATETIME.to_representation(entry.created_at),
        "kind": entry.kind,
        "points": entry.points,
        "balance_after": entry.balance_after,
        "description": entry.words,
    }


class LedgerQuery(serializers.Serializer):
    language = StrictChoiceField(choices=LANGUAGE_CODES, required=False)


def ledger_lines_word(entries, *, language: str, partner_id: int) -> list:
    with translation.override(language):
        return entries_word(entries, view=LedgerView(partner_id=partner_id))


class PendingLineSerializer(serializers.Serializer):
    """Points a purchase earned that wait out its partner's return window: not a ledger entry
    yet (its `earn` entry is written when they become available)."""

    earned_at = serializers.DateTimeField()
    points = serializers.IntegerField()
    available_on = serializers.DateField()
    description = serializers.CharField(help_text="The purchase, in `?language=`.")


def pending_lines(member: Member, *, language: str, partner_id: int) -> list[dict]:
    """The member's pending points as the ledger shows them (no query with none pending)."""
    view = LedgerView(partner_id=partner_id)
    with translation.override(language):
        return [
            {
                "earned_at": row.created_at,
                "points": row.open_points,
                "available_on": row.available_on,
                "description": purchase_words(row.purchase, view),
            }
            for row in pending.pending_open(member=member)
        ]


class LedgerPageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    pending = PendingLineSerializer(
        many=True,
        help_text="Points still pending in a return window, soonest available first (the same "
        "on every page): not in the balance until their earn entry is written.",
    )
    results = LedgerLineSerializer(many=True)


class MemberLedgerView(PartnerAPIView):
    required_scope = ApiScope.READ

    pagination_class = NewestFirstPagination

    @extend_schema(
        operation_id="members_ledger",
        summary="A member's ledger, newest first, cursor-paginated",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter(
                "language",
                OpenApiTypes.STR,
                enum=list(LANGUAGE_CODES),
                description="The language of the descriptions; default: the member's.",
            ),
        ],
        responses={200: LedgerPageSerializer, **problems(400, 404)},
    )
    def get(self, request, member_number: str):
        query = LedgerQuery(data=request.query_params.dict())  # (a QueryDict drops "")
        query.is_valid(raise_exception=True)
        member: Member = member_ref(member_number)
        paginator = self.pagination_class()
        lines = first_page(member, request) or ledger_lines(member)
        page = paginator.paginate_queryset(lines, request, view=self)
        language = query.validated_data.get("language") or member.language
        page = ledger_lines_word(page, language=language, partner_id=self.partner.pk)
        response = paginator.get_paginated_response([ledger_line(entry) for entry in page])
        waiting = pending_lines(member, language=language, partner_id=self.partner.pk)
        response.data = {
            "next": response.data["next"],
            "previous": response.data["previous"],
            "pending": PendingLineSerializer(waiting, many=True).data,
            "results": response.data["results"],
        }
        return response
