"""Cursor pagination for the API's lists, newest (highest id) first."""

from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

_BIGINT_MAX = 2**63 - 1


class NewestFirstPagination(CursorPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"
    ordering = "-id"

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
