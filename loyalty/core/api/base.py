"""The base of every partner API view: key auth, throttling, JSON only, idempotent POSTs."""

import hashlib
import json
import threading

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from loyalty.base.api.parsers import DecimalJSONParser
from loyalty.base.api.throttling import ApiKeyRateThrottle
from loyalty.base.errors import LoyaltyError
from loyalty.core.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
)
from loyalty.core.models import IdempotencyRecord
from loyalty.core.services import PreparedSQL, StalePreparedStatement

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


class CompactJSONRenderer(JSONRenderer):
    """JSON as the API stores and replays it: compact, whatever `indent` an Accept header asks
    for, so an answer and its replay are the same bytes."""

    def get_indent(self, accepted_media_type, renderer_context):
        return None


class PartnerAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [IsAuthenticated]
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

    def run_idempotent(self, request, handler, *, savepoint_free: bool = False) -> Response:
        """Run the handler once per (partner, Idempotency-Key): see IdempotentRun."""
        key, digest = idempotency_key_and_digest(request)
        run = IdempotentRun(self.partner, key, digest, self.handle_exception)
        return run.run(handler, savepoint_free=savepoint_free)


def idempotency_key_and_digest(request) -> tuple[str, str]:
    """The request's Idempotency-Key (IdempotencyKeyRequired if missing or malformed) and the
    digest of what it asks (method, path and body) that a retry must match."""
    key = request.headers.get("Idempotency-Key", "")
    if not (0 < len(key) <= 255 and key.isascii() and key.isprintable()):
        raise IdempotencyKeyRequired()
    body = request.body  # RequestDataTooBig becomes a 413 problem
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.path.encode() + b"\n" + body
    ).hexdigest()
    return key, digest


class IdempotentRun:
    """One request under a partner's Idempotency-Key. `refusal` turns an error the handler
    raises (a LoyaltyError or a 4xx) into the response to store."""

    def __init__(self, partner, key: str, digest: str, refusal):
        self.partner_id = partner.pk
        self.key = key
        self.digest = digest
        self.refusal = refusal

    def run(self, handler, *, savepoint_free: bool = False) -> Response:
        """Run the handler once per (partner, key), in one transaction with the key.

        The handler's effects and the stored response commit together. A business refusal is
        stored and replayed like a success; an unexpected error rolls everything back, key too.
        A retry with the same key replays; with another body it is refused
        (IdempotencyKeyReused), and while the first still runs, IdempotencyKeyInProgress.

        The handler runs in a savepoint, so a refusal rolls its effects back and keeps the key.
        `savepoint_free=True` is for a hot handler that writes nothing itself and passes a
        `savepoint` argument on to the one atomic service it calls (recording a purchase). It
        is called with savepoint=False first: no savepoint anywhere, two round trips fewer.
        Should the service fail after writing (its transaction is then marked for rollback),
        everything is rolled back, key too, and the request runs again with savepoint=True,
        exactly as a handler with a savepoint runs.
        """
        try:
            return self._run(handler, savepoint_free)
        except StalePreparedStatement:
            # Everything rolled back, key too, and the statements are prepared afresh now.
            return self._run(handler, savepoint_free)

    def _run(self, handler, savepoint_free: bool) -> Response:
        if savepoint_free:
            try:
                return self._run_claimed(lambda: handler(savepoint=False))
            except _FailedAfterWriting:
                return self._run_claimed(lambda: handler(savepoint=True))
        return self._run_claimed(handler, savepoint=True)

    def _run_claimed(self, handler, *, savepoint: bool = False) -> Response:
        with transaction.atomic():
            record_id, record = self._claim()
            if record is not None:
                return self._replay(record)
            try:
                if savepoint:
                    with transaction.atomic():
                        response = handler()
                else:
                    response = handler()
            except Exception as exc:
                if transaction.get_rollback():
                    # Only without a savepoint: the service's writes cannot be undone alone.
                    # Leaving this block rolls the whole transaction back.
                    raise _FailedAfterWriting() from exc
                if not (isinstance(exc, LoyaltyError) or _is_client_error(exc)):
                    raise
                response = self.refusal(exc)
            self._store(record_id, response)
            return response

    def _claim(self) -> tuple[int | None, IdempotencyRecord | None]:
        """Claim the key: (the new record's id, None), or (None, the record another request
        made), to replay.

        The unique (partner, key) decides who owns the key. On PostgreSQL one statement, with no
        savepoint: INSERT ... ON CONFLICT DO NOTHING waits for a concurrent insert of the same
        key to commit (then inserts nothing: replay) or to roll back (then inserts: ours).
        """
        partner_id, key = self.partner_id, self.key
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                _CLAIM.execute(
                    cursor,
                    {
                        "partner_id": partner_id,
                        "key": key,
                        "digest": self.digest,
                        "content_type": "application/json",
                        "now": timezone.now(),
                    },
                )
                row = cursor.fetchone()
            if row is not None:
                return row[0], None
        else:
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        partner_id=partner_id, key=key, request_hash=self.digest
                    )
                return record.pk, None
            except IntegrityError:
                pass
        # Another request with this key committed first (it waited for it): replay what it got.
        return None, IdempotencyRecord.objects.get(partner_id=partner_id, key=key)

    def _store(self, record_id: int, response: Response) -> None:
        """Keep the response on the claimed record (one UPDATE, no model save).

        The body is stored as the JSON text DRF renders, byte for byte (SQL NULL for a response
        without data), for a replay to send the same.
        """
        rendered = JSONRenderer().render(response.data)
        response.rendered_json = rendered  # the purchase lane answers with these bytes
        body = None if rendered in (b"", b"null") else rendered.decode()
        with connection.cursor() as cursor:
            _STORE.execute(
                cursor,
                {
                    "status": response.status_code,
                    "body": body,
                    "content_type": response.content_type or "application/json",
                    "id": record_id,
                },
            )

    def _replay(self, record: IdempotencyRecord) -> Response:
        if record.request_hash != self.digest:
            raise IdempotencyKeyReused()
        if record.response_status is None:
            raise IdempotencyKeyInProgress()
        return StoredResponse(
            (record.response_body or "").encode(),
            status=record.response_status,
            headers={"Idempotent-Replayed": "true"},
            content_type=record.response_content_type,
        )


class StoredResponse(Response):
    """An answer given before, sent again as the very bytes it was first sent as."""

    def __init__(self, content: bytes, **kwargs):
        super().__init__(json.loads(content) if content else None, **kwargs)
        self.rendered_json = content  # what the purchase lane answers with, too

    @property
    def rendered_content(self) -> bytes:
        if self.rendered_json:
            self["Content-Type"] = self.content_type
        elif "Content-Type" in self:
            del self["Content-Type"]  # as DRF answers without a body
        return self.rendered_json


_CLAIM = PreparedSQL(  # PostgreSQL only (ON CONFLICT ... DO NOTHING waits for a concurrent insert)
    "loyalty_idempotency_claim",
    f"INSERT INTO {IdempotencyRecord._meta.db_table} "
    "(partner_id, key, request_hash, response_content_type, created_at) "
    "VALUES (%(partner_id)s, %(key)s, %(digest)s, %(content_type)s, %(now)s) "
    "ON CONFLICT (partner_id, key) DO NOTHING RETURNING id",
    {
        "partner_id": "bigint",
        "key": "varchar",
        "digest": "varchar",
        "content_type": "varchar",
        "now": "timestamptz",
    },
)
_STORE = PreparedSQL(
    "loyalty_idempotency_store",
    f"UPDATE {IdempotencyRecord._meta.db_table} SET response_status = %(status)s, "
    "response_body = %(body)s, response_content_type = %(content_type)s WHERE id = %(id)s",
    {"status": "integer", "body": "text", "content_type": "varchar", "id": "bigint"},
)


_serializers = threading.local()


def validated_input(serializer_class, data) -> dict:
    """`serializer_class(data=data)`, validated (ValidationError if not) and its
    validated_data, with one instance of the serializer per thread, reused.

    DRF builds an instance's fields afresh (a deep copy of every declared field, nested ones
    too): for a purchase that was a tenth of the request's Python time. Validation keeps no
    state in the instance but its result, which is cleared here before each use, and no
    instance is shared between threads, so the answers are exactly DRF's.
    """
    cache = _serializers.__dict__
    serializer = cache.get(serializer_class)
    if serializer is None:
        serializer = cache[serializer_class] = serializer_class(data=None)
    for result in ("_validated_data", "_errors", "_data"):
        serializer.__dict__.pop(result, None)
    serializer.initial_data = data
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class _FailedAfterWriting(Exception):
    """A handler without a savepoint failed with its transaction marked for rollback."""


def _is_client_error(exc) -> bool:
    from django.http import Http404
    from rest_framework.exceptions import APIException

    return isinstance(exc, Http404) or (
        isinstance(exc, APIException) and 400 <= exc.status_code < 500
    )
