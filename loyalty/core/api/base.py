"""The base of every partner API view: key auth, throttling, JSON only, idempotent POSTs."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication, HasScope
from loyalty.base.api.parsers import DecimalJSONParser
from loyalty.base.api.renderers import CompactJSONRenderer
from loyalty.base.api.throttling import ApiKeyRateThrottle

from .idempotency import IdempotentRun, idempotency_key_and_digest

IDEMPOTENCY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type=OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    required=True,
    description=(
        "A unique key per intended action (e.g. a UUID), 1 to 255 printable ASCII characters. "
        "Retrying with the same key and body replays the first response; the same key with "
        "another body is refused (422 idempotency_key_reused). Keys are kept at least 24 hours "
        "and are scoped to the partner."
    ),
)


class ScopedAutoSchema(AutoSchema):
    """Each operation names the API key scope it needs: in its description and in
    `x-required-scope` (OpenAPI's security requirements carry no scopes for an apiKey scheme)."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
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
