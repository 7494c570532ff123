"""The cache in tests: one Redis database for every process of a run (pytest-xdist), so each
process keeps to keys of its own (tests/conftest.py gives the cache a prefix per process) and
empties only those."""

import os

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache

# "gw0", "gw1"… in a pytest-xdist process, "" in a run of one process
PROCESS = os.environ.get("PYTEST_XDIST_WORKER", "")


def cache_prefix_per_process() -> None:
    """Give this process's cache keys a prefix of their own (before any cache is made): the
    throttle's and the login counters' keys hold ids that another process's test database
    gives too."""
    if PROCESS:
        settings.CACHES["default"]["KEY_PREFIX"] = f"test-{PROCESS}"


def cache_empty() -> None:
    """Empty this process's keys: on Redis only those (Django's clear() would empty the whole
    database: the other processes' keys and the Celery queues their workers read), elsewhere
    all of the process's own cache."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        backend.clear()
        return
    client = backend._cache.get_client(None, write=True)
    keys = list(client.scan_iter(match=backend.make_key("*"), count=1000))
    if keys:
        client.delete(*keys)
