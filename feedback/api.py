"""Partner API: a shop or call centre files feedback for a member, and follows its answer."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import ApiScope
from accounts.services import member_by_number
from loyalty.base.api.fields import StrictBooleanField, StrictCharField, StrictChoiceField
from loyalty.base.api.serializers import problems
from loyalty.core.api.base import IDEMPOTENCY_HEADER, PartnerAPIView, link

from . import services
from .errors import FeedbackNotFound
from .models import TEXT_MAX_LENGTH, FeedbackItem


class FeedbackInput(serializers.Serializer):
    member_number = StrictCharField(max_length=20)
    kind = StrictChoiceField(choices=FeedbackItem.Kind.choices)
    category = StrictChoiceField(choices=FeedbackItem.Category.choices)
    text = StrictCharField(
        max_length=TEXT_MAX_LENGTH,
        not_blank=True,
        help_text="What the member said, in their words.",
    )
    purchase_external_id = StrictCharField(
        max_length=100,
        required=False,
        allow_blank=True,
        help_text="This partner's id of the purchase it is about, if any.",
    )
    publish_consent = StrictBooleanField(
        default=False,
        help_text="The member agrees that an anonymised story of the case may be published.",
    )


class FeedbackAnswerOutput(serializers.Serializer):
    handler_name = serializers.CharField()
    what_was_done = serializers.CharField()
    what_changes = serializers.CharField()
    created_at = serializers.DateTimeField()


class FeedbackOutput(serializers.Serializer):
    id = serializers.IntegerField()
    member_number = serializers.CharField(source="member.member_number")
    kind = serializers.CharField()
    category = serializers.CharField()
    severity = serializers.CharField()
    status = serializers.CharField()
    text = serializers.CharField()
    purchase_external_id = serializers.CharField(
        source="purchase.external_id", allow_null=True, default=None
    )
    created_at = serializers.DateTimeField()
    first_answer_due = serializers.DateTimeField()
    resolution_due = serializers.DateTimeField()
    answers = FeedbackAnswerOutput(many=True)


def _body(item: FeedbackItem) -> dict:
    return FeedbackOutput(item).data


class FeedbackView(PartnerAPIView):
    required_scope = ApiScope.FEEDBACK
    schema_links = {
        "GetFeedback": link(
            "feedback_retrieve",
            "The item, with its status and answers.",
            parameters={"path.item_id": "$response.body#/id"},
        ),
    }

    @extend_schema(
        operation_id="feedback_create",
        summary="File a complaint, suggestion, question or praise for a member",
        parameters=[IDEMPOTENCY_HEADER],
        request=FeedbackInput,
        responses={201: FeedbackOutput, **problems(404, 422, post=True)},
        description="The member is told in their language that we have it and when we answer. "
        "A purchase_external_id must be one of this partner's purchases by this member "
        "(otherwise 404 purchase_not_found). Empty or overlong text is refused with 400 "
        "invalid_request; nothing is stored.",
    )
    def post(self, request, *args, **kwargs):
        return self.run_idempotent(request, lambda: self.create(request))

    def create(self, request):
        data = FeedbackInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        member = member_by_number(values["member_number"])
        purchase = None
        if values.get("purchase_external_id"):
            purchase = services.member_purchase(
                member=member, external_id=values["purchase_external_id"], partner=self.partner
            )
        item = services.feedback_file(
            member=member,
            kind=values["kind"],
            category=values["category"],
            text=values["text"],
            purchase=purchase,
            partner=self.partner,
            publish_consent=values["publish_consent"],
        )
        return Response(_body(item), status=status.HTTP_201_CREATED)


class FeedbackDetailView(PartnerAPIView):
    required_scope = ApiScope.READ

    @extend_schema(
        operation_id="feedback_retrieve",
        summary="An item this partner filed, with its status and answers",
        responses={200: FeedbackOutput, **problems(404)},
    )
    def get(self, request, item_id: int):
        item = (
            FeedbackItem.objects.select_related("member", "purchase")
            .prefetch_related("answers")
            .filter(pk=item_id, partner=self.partner)
            .first()
        )
        if item is None:
            raise FeedbackNotFound()
        return Response(_body(item))
