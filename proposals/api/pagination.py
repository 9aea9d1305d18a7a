"""Cursor pagination for every API list: stable under inserts, no COUNT query."""

from django.core.exceptions import ValidationError
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination


class ApiCursorPagination(CursorPagination):
    page_size = 25
    page_size_query_param = "limit"
    max_page_size = 100
    ordering = ("-created_at", "-pk")
    page_size_query_description = "Items per page (1–100, default 25)."
    cursor_query_description = "Opaque cursor from a previous page's `next` or `previous`."

    def paginate_queryset(self, queryset, request, view=None):
        try:
            return super().paginate_queryset(queryset, request, view)
        except (ValidationError, ValueError, TypeError, OverflowError):
            # A hand-made cursor whose position does not fit the ordering field's type.
            raise NotFound(self.invalid_cursor_message) from None


class NameCursorPagination(ApiCursorPagination):
    ordering = ("name", "pk")


class VersionCursorPagination(ApiCursorPagination):
    ordering = ("-number",)
