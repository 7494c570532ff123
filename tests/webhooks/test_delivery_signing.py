"""One webhook delivered to a real HTTP receiver on 127.0.0.1, signed over its exact body."""

import json
from datetime import timedelta

from tests.webhooks.delivery_helpers import DELIVERED, SECRET, T0, _delivery
from webhooks import delivery
from webhooks.delivery import verify_signature
from webhooks.models import WebhookEvent


def test_delivery_reaches_the_receiver_signed_with_the_exact_body(receiver, endpoint, frozen, emit):
    # given
    payload = {"member_number": "M-000001", "points": 12, "name": "Ona Žemaitė"}

    # when
    event = emit(event_type="points.earned", payload=payload, partner=endpoint.partner)

    # then
    [request] = receiver.requests
    stored = WebhookEvent.objects.get(pk=event.pk).payload
    assert request.method == "POST"
    assert request.path == "/hook"
    assert request.body == json.dumps(stored, ensure_ascii=False, separators=(",", ":")).encode()
    assert json.loads(request.body) == {
        "id": str(event.id),
        "type": "points.earned",
        "created_at": T0.isoformat(),
        "data": payload,
    }
    assert "Ona Žemaitė".encode() in request.body
    headers = request.headers
    assert headers["Content-Type"] == "application/json"
    assert headers["Loyalty-Event-Id"] == str(event.id)
    assert headers["Loyalty-Event-Type"] == "points.earned"
    assert headers["Loyalty-Timestamp"] == str(int(T0.timestamp()))
    assert headers["Loyalty-Signature"].startswith("v1=")
    assert verify_signature(
        SECRET, headers["Loyalty-Timestamp"], request.body, headers["Loyalty-Signature"]
    )
    assert not verify_signature(
        "another-secret-entirely",
        headers["Loyalty-Timestamp"],
        request.body,
        headers["Loyalty-Signature"],
    )
    sent = _delivery()
    assert (sent.status, sent.attempts, sent.last_status_code, sent.last_error) == (
        DELIVERED,
        1,
        200,
        "",
    )
    assert sent.delivered_at == T0
    assert sent.last_attempt_at == T0


def test_verify_signature_refuses_tampering_replays_and_junk(frozen):
    # given
    body = b'{"id":"e1","type":"points.earned"}'
    timestamp = str(int(T0.timestamp()))
    header = delivery.signature_header(SECRET, timestamp, body)

    # then
    assert verify_signature(SECRET, timestamp, body, header)
    assert verify_signature(SECRET, int(timestamp), body.decode(), header)
    assert verify_signature(SECRET, timestamp, body, f"v1=deadbeef, {header}")  # key rotation
    assert not verify_signature(SECRET, timestamp, body + b" ", header)
    assert not verify_signature(SECRET, str(int(timestamp) + 1), body, header)
    assert not verify_signature(SECRET, timestamp, body, header.replace("v1=", "v0="))
    assert not verify_signature(SECRET, "not-a-number", body, header)
    assert not verify_signature(SECRET, timestamp, body, "")
    assert not verify_signature(SECRET, timestamp, body, None)
    # a request signed six minutes ago is a replay, unless the tolerance is switched off
    frozen.move_to(T0 + timedelta(minutes=6), tick=False)
    assert not verify_signature(SECRET, timestamp, body, header)
    assert verify_signature(SECRET, timestamp, body, header, tolerance=None)
