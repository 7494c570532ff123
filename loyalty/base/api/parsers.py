"""JSON with numbers read as Decimal, so money never passes through a float."""

import codecs
import json
from decimal import Decimal

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError, UnsupportedMediaType

# Deeper than any body of ours (a purchase's lines are 3 levels down); deeper bodies are refused
# before anything recursive (json itself, the NUL check, a serializer) could run out of stack.
MAX_DEPTH = 32
# Text codecs that turn escapes or ASCII into other characters, or decode nothing at all
# ("undefined"): never a body's real charset.
_TRANSFORMING = frozenset(
    {"unicode-escape", "raw-unicode-escape", "utf-7", "idna", "punycode", "undefined"}
)


def _refuse_constant(name):
    raise ValueError(f"{name} is not valid JSON")


class DecimalJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            codec = codecs.lookup(encoding)
        except LookupError:
            codec = None
        if codec is None or not codec._is_text_encoding or codec.name in _TRANSFORMING:
            raise UnsupportedMediaType(
                media_type or "application/json",
                detail=f"The charset {encoding!r} is not supported; send UTF-8.",
            )
        try:
            text = stream.read().decode(codec.name)
        except UnicodeError as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from None
        if _deeper_than(text, MAX_DEPTH):
            raise ParseError(f"The body is nested more than {MAX_DEPTH} levels deep.")
        try:
            data = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(f"The body is not valid JSON: {exc}") from None
        # A NUL is refused by the field that would store it (PostgreSQL cannot; the schema says
        # so), not here: in a field the API ignores, it is ignored like the field.
        return data


def _deeper_than(text: str, limit: int) -> bool:
    """Whether the JSON text opens more than `limit` arrays or objects inside one another
    (brackets inside strings do not count). Only a body with that many brackets is scanned."""
    if text.count("[") + text.count("{") <= limit:
        return False
    depth = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False
