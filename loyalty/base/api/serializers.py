"""What every API view's input and output share: the problem body for the schema, and validated
input without DRF's per-request copy of the serializer's fields."""

from __future__ import annotations

import threading

from rest_framework import serializers


class ProblemSerializer(serializers.Serializer):
    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField(help_text="A stable machine code, e.g. insufficient_points.")
    errors = serializers.DictField(required=False, help_text="Field errors, for invalid_request.")
    member_number = serializers.CharField(required=False, help_text="For member_exists.")
    required_scope = serializers.CharField(
        required=False, help_text="For insufficient_scope: the scope the key lacks."
    )
    points_pending = serializers.IntegerField(
        required=False,
        help_text="For insufficient_points: the member's points still pending in a partner's "
        "return window (earned, not spendable yet).",
    )


# 403: insufficient_scope, for a key without the endpoint's scope.
COMMON_ERRORS = (401, 403, 406, 429)


POST_ERRORS = (400, 401, 403, 406, 413, 415, 422, 429)


def problems(*statuses: int, post: bool = False) -> dict:
    """OpenAPI responses for error statuses, all application/problem+json."""
    codes = set(statuses) | set(POST_ERRORS if post else COMMON_ERRORS)
    return {(code, "application/problem+json"): ProblemSerializer for code in sorted(codes)}


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
