"""The purchase's input: one reused serializer per thread, answering as a fresh one would."""

import threading

# --- the purchase's input: one serializer per thread, DRF's answers ------------------------------


PURCHASE_BODIES = [
    {"member_number": "1", "external_id": "A", "amount": "12.50", "currency": "EUR"},
    None,
    [],
    "text",
    {},
    {"member_number": "1", "external_id": " ", "amount": "-1", "currency": "EURO"},
    {"member_number": "1", "external_id": "B", "amount": "1e9", "currency": "EUR"},
    {
        "member_number": "1",
        "external_id": "C",
        "amount": "3.00",
        "currency": "EUR",
        "occurred_at": "2026-01-01T10:00:00Z",
        "lines": [{"sku": "X", "amount": "3.00"}, {"sku": "", "amount": "x"}],
    },
    {
        "member_number": "1",
        "external_id": " D ",
        "amount": 3,
        "currency": "EUR",
        "lines": [{"sku": "X", "quantity": 2, "amount": "3.00", "category": "food"}],
        "payment_fingerprint": "",
    },
]


def fresh_answer(data):
    from rest_framework.exceptions import ValidationError

    from loyalty.core.api.purchases import PurchaseInput

    serializer = PurchaseInput(data=data)
    try:
        serializer.is_valid(raise_exception=True)
    except ValidationError as exc:
        return "invalid", exc.detail
    return "valid", serializer.validated_data


def reused_answer(data):
    from rest_framework.exceptions import ValidationError

    from loyalty.base.api.serializers import validated_input
    from loyalty.core.api.purchases import PurchaseInput

    try:
        return "valid", validated_input(PurchaseInput, data)
    except ValidationError as exc:
        return "invalid", exc.detail


def test_the_reused_serializer_answers_as_a_fresh_one_in_any_order():
    # twice over, forwards then backwards: no answer leaks into the next
    kinds = []
    for data in PURCHASE_BODIES + PURCHASE_BODIES[::-1]:
        fresh, reused = fresh_answer(data), reused_answer(data)
        assert reused == fresh, data
        kinds.append(reused[0])
    assert kinds.count("valid") == 4 and kinds.count("invalid") == 14
    assert reused_answer(PURCHASE_BODIES[0])[0] == "valid"
    assert reused_answer(PURCHASE_BODIES[-1])[1]["external_id"] == " D "  # kept as sent
    assert reused_answer(None)[1] == {"non_field_errors": ["No data provided"]}


def test_each_thread_has_its_own_serializer():
    from loyalty.base.api import serializers
    from loyalty.core.api.purchases import PurchaseInput

    reused_answer(PURCHASE_BODIES[0])
    seen = []
    both_alive = threading.Barrier(2)

    def validate():
        assert reused_answer(PURCHASE_BODIES[0])[0] == "valid"
        seen.append(serializers._serializers.__dict__[PurchaseInput])
        both_alive.wait(timeout=10)

    threads = [threading.Thread(target=validate) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    mine = serializers._serializers.__dict__[PurchaseInput]
    assert len({id(serializer) for serializer in [mine, *seen]}) == 3
