"""Errors that mean a service the program needs is out of reach for now (the database, Redis,
the broker): the answer is 503 with Retry-After, for a retry a little later (with the same
Idempotency-Key, on the partner API), never a 500 that reads like a bug."""

from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

# What a client is asked to wait before trying again.
RETRY_AFTER_SECONDS = 30

OUTAGES = (OperationalError, InterfaceError, BrokerError, RedisConnectionError, RedisTimeoutError)


def is_outage(exc: BaseException | None) -> bool:
    """Whether the error, or one it was raised from, is a service out of reach (the database
    refusing or dropping the connection, a deadlock or a statement cancelled under load, Redis
    or the broker unreachable)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OUTAGES):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
