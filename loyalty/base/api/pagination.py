"""Cursor pagination for the API's lists, newest (highest id) first."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

_BIGINT_MAX = 2**63 - 1


class NewestFirstPagination(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"

    def get_page_size(self, request):
        """`page_size` as the schema has it, 1 to 200; anything else is a 400 (DRF would fall
        back to the default, or cut it to 200, without saying so)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError(
                {self.page_size_query_param: [_("A whole number from 1 to 200.")]}
            )
        return int(raw)

    def decode_cursor(self, request):
        """DRF's cursor, whose position must be an id: a cursor made by hand with anything else
        there is as invalid (404) as one that does not decode, not a failing query."""
        cursor = super().decode_cursor(request)
        position = cursor.position if cursor is not None else None
        if position is not None and not (
            position.isascii() and position.isdigit() and int(position) <= _BIGINT_MAX
        ):
            raise NotFound(self.invalid_cursor_message)
        return cursor


# The query parameters of a list paginated with NewestFirstPagination, for its schema.
PAGE_PARAMETERS = [
    OpenApiParameter(
        "cursor",
        OpenApiTypes.STR,
        description="From `next` or `previous`; a cursor that is not one is refused with 404.",
    ),
    OpenApiParameter(
        "page_size",
        {"type": "integer", "minimum": 1, "maximum": NewestFirstPagination.max_page_size},
        description="1 to 200; default 50.",
    ),
]
