"""Idempotent POSTs: one request per (partner, Idempotency-Key), its effects and its answer in
one transaction, and the answer replayed byte for byte to a retry (docs/ARCHITECTURE.md, "A
request")."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from loyalty.base.errors import LoyaltyError
from loyalty.base.prepared import PreparedSQL, StalePreparedStatement
from loyalty.core.anomalies import refusal_record
from loyalty.core.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    OverLimit,
)
from loyalty.core.models import IdempotencyRecord

# 1 to 255 printable ASCII characters, spaces only inside (HTTP drops them at either end).
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?$"
_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


def idempotency_key_and_digest(request) -> tuple[str, str]:
    """The request's Idempotency-Key (IdempotencyKeyRequired if missing or malformed) and the
    digest of what it asks (method, path and body) that a retry must match."""
    key = request.headers.get("Idempotency-Key", "")
    if not _KEY.fullmatch(key):
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
        # The answer's body as stored (and as a replay sends it), once run() has answered.
        self.body: bytes | None = None

    def run(
        self,
        handler: Callable[[], Response],
        *,
        without_savepoint: Callable[[], Response] | None = None,
    ) -> Response:
        """Run the handler once per (partner, key), in one transaction with the key.

        The handler's effects and the stored response commit together. A business refusal is
        stored and replayed like a success; an unexpected error rolls everything back, key too.
        A retry with the same key replays; with another body it is refused
        (IdempotencyKeyReused), and while the first still runs, IdempotencyKeyInProgress.

        The handler runs in a savepoint, so a refusal rolls its effects back and keeps the key.
        `without_savepoint` is the same handler written to take no savepoint at all: it writes
        nothing itself and calls one service that joins the transaction without one of its own
        (purchases.purchase_record_without_savepoint). It is tried first: two round trips fewer
        for the hottest request. Should its service fail after writing (the transaction is then
        marked for rollback), everything is rolled back, key too, and `handler` runs in a
        savepoint, exactly as without the shortcut.
        """
        try:
            return self._run(handler, without_savepoint)
        except StalePreparedStatement:
            # Everything rolled back, key too, and the statements are prepared afresh now.
            return self._run(handler, without_savepoint)

    def _run(self, handler, without_savepoint) -> Response:
        if without_savepoint is not None:
            try:
                return self._run_claimed(without_savepoint)
            except _FailedAfterWriting:
                pass
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
                if isinstance(exc, OverLimit):
                    # (its effects rolled back; what staff must hear of it commits with the key)
                    refusal_record(exc)
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
        self.body = rendered
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
        self.body = (record.response_body or "").encode()
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
        self.stored_content = content

    @property
    def rendered_content(self) -> bytes:
        if self.stored_content:
            self["Content-Type"] = self.content_type
        elif "Content-Type" in self:
            del self["Content-Type"]  # as DRF answers without a body
        return self.stored_content


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


class _FailedAfterWriting(Exception):
    """A handler without a savepoint failed with its transaction marked for rollback."""


def _is_client_error(exc) -> bool:
    return isinstance(exc, Http404) or (
        isinstance(exc, APIException) and 400 <= exc.status_code < 500
    )
