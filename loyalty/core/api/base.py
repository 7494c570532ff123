"""The base of every partner API view: key auth, throttling, JSON only, idempotent POSTs."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication, HasScope
from loyalty.base.api.parsers import DecimalJSONParser
from loyalty.base.api.renderers import CompactJSONRenderer
from loyalty.base.api.throttling import ApiKeyRateThrottle

from .idempotency import IDEMPOTENCY_KEY_PATTERN, IdempotentRun, idempotency_key_and_digest

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type={
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": IDEMPOTENCY_KEY_PATTERN,
    },
    location=OpenApiParameter.HEADER,
    required=True,
    description=(
        "A unique key per intended action (e.g. a UUID), 1 to 255 printable ASCII characters "
        "(spaces only inside); a missing or malformed key is refused with 400 "
        "idempotency_key_required. "
        "Retrying with the same key and body replays the first response; the same key with "
        "another body is refused (422 idempotency_key_reused). Keys are kept at least 24 hours "
        "and are scoped to the partner."
    ),
)


def link(operation_id: str, description: str, *, parameters=None, body=None) -> dict:
    """An OpenAPI link from a success to the operation it leads to: `parameters` as
    {"path.name": "$response.body#/field"}, `body` as {"field": "$response.body#/field"} (the
    fields are set in the body a client would send, the rest is the client's)."""
    definition = {"operationId": operation_id, "description": description}
    if parameters:
        definition["parameters"] = parameters
    if body:
        definition["requestBody"] = body
    return definition


class ScopedAutoSchema(AutoSchema):
    """Each operation names the API key scope it needs: in its description and in
    `x-required-scope` (OpenAPI's security requirements carry no scopes for an apiKey scheme).
    A view's `schema_links` (see `link`) go on its success answers: clients, and schemathesis'
    stateful phase, follow them from a new member to their reads, a purchase to its refund."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        links = getattr(self.view, "schema_links", None)
        if operation is not None and links:
            for status, response in operation["responses"].items():
                if status.startswith("2"):
                    response["links"] = links
        scope = getattr(self.view, "required_scope", None)
        if operation is not None and scope:
            scope = str(scope)
            operation["x-required-scope"] = scope
            note = (
                f"Needs the API key scope `{scope}`; a key without it is refused with "
                "403 insufficient_scope."
            )
            description = operation.get("description", "")
            operation["description"] = f"{description}\n\n{note}" if description else note
        return operation

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """drf-spectacular leaves out a nested list's bounds (`many=True, max_length=500`)."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.ListSerializer) and schema.get("type") == "array":
            if field.min_length is not None:
                schema["minItems"] = field.min_length
            if field.max_length is not None:
                schema["maxItems"] = field.max_length
        return schema


class PartnerAPIView(APIView):
    """`required_scope`: the ApiScope value a key needs for this view (HasScope)."""

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated, HasScope]
    required_scope: str | None = None
    schema = ScopedAutoSchema()
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [DecimalJSONParser]
    renderer_classes = [CompactJSONRenderer]

    @property
    def partner(self):
        return self.request.user.partner

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A NUL in the path or query can never name anything we store (PostgreSQL refuses it).
        if "\x00" in request.path or "\x00" in request.META.get("QUERY_STRING", ""):
            raise NotFound()
        if any("\x00" in value for value in request.query_params.values()):
            raise NotFound()

    def run_idempotent(self, request, handler, *, without_savepoint=None) -> Response:
        """Run the handler once per (partner, Idempotency-Key): see IdempotentRun."""
        key, digest = idempotency_key_and_digest(request)
        run = IdempotentRun(self.partner, key, digest, self.handle_exception)
        return run.run(handler, without_savepoint=without_savepoint)
