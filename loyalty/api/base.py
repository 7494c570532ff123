"""The base of every partner API view: key auth, throttling, JSON only, idempotent POSTs."""

import hashlib
import json

from django.db import IntegrityError, transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from loyalty.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    LoyaltyError,
)
from loyalty.models import IdempotencyRecord

from .authentication import ApiKeyAuthentication
from .parsers import DecimalJSONParser
from .throttling import ApiKeyRateThrottle

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


class PartnerAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [DecimalJSONParser]
    renderer_classes = [JSONRenderer]

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

    def run_idempotent(self, request, handler) -> Response:
        """Run the handler once per (partner, Idempotency-Key), in one transaction with the key.

        The handler's effects and the stored response commit together. A business refusal is
        stored and replayed like a success; an unexpected error rolls everything back, key too.
        """
        key = request.headers.get("Idempotency-Key", "")
        if not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
            raise IdempotencyKeyRequired()
        body = request.body  # RequestDataTooBig becomes a 413 problem
        digest = hashlib.sha256(
            request.method.encode() + b" " + request.path.encode() + b"\n" + body
        ).hexdigest()
        with transaction.atomic():
            record, created = self._claim(key, digest)
            if not created:
                return self._replay(record, digest)
            try:
                with transaction.atomic():
                    response = handler()
            except LoyaltyError as exc:
                response = self.handle_exception(exc)
            except Exception as exc:
                if not _is_client_error(exc):
                    raise
                response = self.handle_exception(exc)
            record.response_status = response.status_code
            record.response_body = json.loads(JSONRenderer().render(response.data) or b"null")
            record.response_content_type = response.content_type or "application/json"
            record.save(update_fields=["response_status", "response_body", "response_content_type"])
            return response

    def _claim(self, key: str, digest: str):
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(
                    partner=self.partner, key=key, request_hash=digest
                )
            return record, True
        except IntegrityError:
            # Another request with this key committed first (on PostgreSQL the insert waited for
            # it): replay what it got.
            return IdempotencyRecord.objects.get(partner=self.partner, key=key), False

    def _replay(self, record: IdempotencyRecord, digest: str) -> Response:
        if record.request_hash != digest:
            raise IdempotencyKeyReused()
        if record.response_status is None:
            raise IdempotencyKeyInProgress()
        return Response(
            record.response_body,
            status=record.response_status,
            headers={"Idempotent-Replayed": "true"},
            content_type=record.response_content_type,
        )


def _is_client_error(exc) -> bool:
    from django.http import Http404
    from rest_framework.exceptions import APIException

    return isinstance(exc, Http404) or (
        isinstance(exc, APIException) and 400 <= exc.status_code < 500
    )
