"""schemathesis hooks for the contract run (tests/api/schemathesis.toml).

Every POST takes an Idempotency-Key, "a unique key per intended action": the same key with
another body is refused with 422 idempotency_key_reused, whichever endpoint it was first used
on. A schema cannot say "unique", and generated keys repeat ("0", "00", ...), so a valid key
(one that matches the schema's pattern) sent before is made unique here before it goes out:
its first character kept, its length too where it is long enough, so it stays valid.

Cases generated to be invalid in their headers (a key empty, too long or with a control
character; the Authorization header left out) go out as generated: the server must refuse
them, and changing them would change what schemathesis checks.
"""

from __future__ import annotations

import re
import threading
import uuid

import schemathesis
from schemathesis.core.parameters import ParameterLocation

HEADER = "idempotency-key"
_sent: set[str] = set()
_lock = threading.Lock()


def _pattern(operation) -> re.Pattern | None:
    for parameter in operation.headers:
        if parameter.name.lower() == HEADER:
            pattern = parameter.definition.get("schema", {}).get("pattern")
            return re.compile(pattern) if pattern else None
    return None


def _unique(key: str, *, change: bool) -> str:
    with _lock:
        if change and key in _sent:
            suffix = uuid.uuid4().hex
            key = key[: -len(suffix)] + suffix if len(key) > len(suffix) else key + suffix
        _sent.add(key)
    return key


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    meta = case.meta
    generated_invalid = meta is not None and meta.is_negative_at(ParameterLocation.HEADER)
    for name, key in headers.items():
        if name.lower() != HEADER or not isinstance(key, str):
            continue
        pattern = _pattern(case.operation)
        if pattern is not None and pattern.fullmatch(key):
            headers[name] = _unique(key, change=not generated_invalid)
