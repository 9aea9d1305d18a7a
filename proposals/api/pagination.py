"""Cursor pagination for every API list: stable under inserts, no COUNT query."""

import re

from django.core.exceptions import ValidationError
from rest_framework import exceptions
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination

MIN_PAGE_SIZE = 1
_DIGITS = re.compile(r"[0-9]{1,9}")


class ApiCursorPagination(CursorPagination):
    page_size = 25
    page_size_query_param = "limit"
    max_page_size = 100
    ordering: tuple[str, ...] = ("-created_at", "-pk")
    page_size_query_description = "Items per page (1–100, default 25)."
    cursor_query_description = "Opaque cursor from a previous page's `next` or `previous`."

    def get_page_size(self, request) -> int:
        """``limit`` as documented: absent is the default, anything but 1–100 a 400.

        (DRF silently falls back to the default for garbage and cuts a large value down, so a
        typo'd ``limit`` answered a page of another size than asked.)
        """
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not _DIGITS.fullmatch(raw) or not MIN_PAGE_SIZE <= int(raw) <= self.max_page_size:
            raise exceptions.ValidationError(
                {
                    self.page_size_query_param: [
                        f"Use a whole number from {MIN_PAGE_SIZE} to {self.max_page_size}."
                    ]
                }
            )
        return int(raw)

    def get_schema_operation_parameters(self, view) -> list[dict]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": MIN_PAGE_SIZE,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters

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
