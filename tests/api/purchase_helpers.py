"""Helpers for the tests of POST /api/v1/purchases/: a purchase, its statements, one held open."""

import threading

from loyalty.core.purchases import purchase_record_without_savepoint


def buy(api, member, external_id="T-1", amount="12.50", key=None, **extra):
    body = {
        "member_number": member.member_number,
        "external_id": external_id,
        "amount": amount,
        "currency": "EUR",
        **extra,
    }
    return api.post("/api/v1/purchases/", body, idempotency_key=key)


def statements(queries) -> list[str]:
    return [query["sql"] for query in queries.captured_queries]


def _held_purchase(monkeypatch, *, fail: bool):
    """The purchase (as the API records it first, without a savepoint) for the first caller only
    waits for `release` (its transaction open, holding the key) and then returns, or raises an
    unexpected error."""
    entered, release = threading.Event(), threading.Event()
    real = purchase_record_without_savepoint
    first = threading.Lock()

    def held(**kwargs):
        if not first.acquire(blocking=False):
            return real(**kwargs)
        result = real(**kwargs)
        entered.set()
        release.wait(10)
        if fail:
            raise RuntimeError("the first request dies")
        return result

    monkeypatch.setattr("loyalty.core.api.purchases.purchase_record_without_savepoint", held)
    return entered, release
