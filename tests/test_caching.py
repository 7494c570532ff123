"""The processes of a test run share one Redis database: each keeps to keys of its own
(tests/caching.py)."""

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

from tests.caching import PROCESS, cache_empty


def test_this_process_cache_keys_carry_its_prefix():
    assert caches["default"].key_prefix == (f"test-{PROCESS}" if PROCESS else "")


def test_emptying_the_cache_leaves_the_other_processes_keys_alone():
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        pytest.skip("the cache is this process's own (no REDIS_URL)")
    client = backend._cache.get_client(None, write=True)
    theirs = "test-elsewhere:1:login-failures:x"  # as another process's prefix makes it
    client.set(theirs, 1, ex=60)
    cache.set("mine", 1, 60)
    try:
        cache_empty()
        assert cache.get("mine") is None
        assert client.get(theirs) == b"1"
    finally:
        client.delete(theirs)
