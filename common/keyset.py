"""Keyset (cursor) pagination: a page is "the rows after this key", never an OFFSET.

A page costs the same at row 25 and at row 50,000: the query is the list's own filter plus
``(f1, f2, …) after (v1, v2, …)`` in the list's order and a LIMIT of one row more than the page
(that extra row says whether there is a next page). Nothing is counted.

The cursor is opaque to the client (URL-safe base64 of a small JSON list) but not trusted:
every value is parsed back through its model field (``to_python``), so a hand-made or damaged
cursor is rejected as ``InvalidCursor`` before it reaches the database. It needs no signature:
it can only move the window inside a queryset the caller has already scoped.

The ordering must end with a unique field (``pk``) so that every row has one position.
Works on PostgreSQL and SQLite alike (plain comparisons, no row-value syntax).
"""

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import or_
from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Field, Model, Q, QuerySet

from common.ids import MAX_ID, MIN_BIGINT

MAX_CURSOR_LENGTH = 512
FORWARD, BACKWARD = "n", "p"


class InvalidCursor(ValueError):
    """The cursor was not made by this paginator for this ordering."""


@dataclass(frozen=True)
class KeysetPage:
    """One page of rows plus the cursors to the neighbouring pages (None: there is none)."""

    object_list: list
    next_cursor: str | None
    previous_cursor: str | None

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    def __iter__(self):
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def _fields(ordering: Sequence[str]) -> list[tuple[str, bool]]:
    """``("-created_at", "-pk")`` → ``[("created_at", True), ("pk", True)]`` (name, descending)."""
    return [(name.lstrip("-"), name.startswith("-")) for name in ordering]


def _encode_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, int | str) or value is None:
        return value
    return str(value)


def _decode_value(model: type[Model], name: str, raw: Any) -> Any:
    if not isinstance(raw, int | str) or isinstance(raw, bool):
        raise InvalidCursor("Bad cursor value.")
    try:
        field = model._meta.pk if name == "pk" else model._meta.get_field(name)
        # The ordering is the code's, never the client's: it names columns, not relations.
        assert isinstance(field, Field), f"keyset ordering names {name!r}, not a column"
        value = field.to_python(raw)
    except (FieldDoesNotExist, ValidationError, ValueError, TypeError, OverflowError):
        raise InvalidCursor("Bad cursor value.") from None
    if value is None:
        raise InvalidCursor("Bad cursor value.")
    if isinstance(value, datetime) and value.tzinfo is None:
        # Cursors are written with their offset; a naive time was not made here.
        raise InvalidCursor("Bad cursor value.")
    if isinstance(value, int) and not MIN_BIGINT <= value <= MAX_ID:
        raise InvalidCursor("Bad cursor value.")
    return value


def encode_cursor(direction: str, key: Sequence[Any]) -> str:
    payload = json.dumps([direction, *map(_encode_value, key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, *, model: type[Model], ordering: Sequence[str]) -> tuple[str, list]:
    """``(direction, key values)``; ``InvalidCursor`` for anything this module did not write."""
    if not cursor or len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("Bad cursor.")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidCursor("Bad cursor.") from None
    fields = _fields(ordering)
    if (
        not isinstance(data, list)
        or len(data) != len(fields) + 1
        or data[0] not in (FORWARD, BACKWARD)
    ):
        raise InvalidCursor("Bad cursor.")
    values = [
        _decode_value(model, name, raw) for (name, _), raw in zip(fields, data[1:], strict=True)
    ]
    return data[0], values


def _after(fields: list[tuple[str, bool]], values: list, *, reverse: bool) -> Q:
    """Rows strictly after ``values`` in the ordering (before them when ``reverse``).

    ``(a, b) after (x, y)`` is written ``a ≥ x AND (a > x OR (a = x AND b > y))`` (with ≤/<
    for descending fields): the leading range lets an index on ``a`` start at the key and
    the rest is a filter on the few rows that share it.
    """

    def op(descending: bool, strict: bool) -> str:
        forward = descending == reverse  # ascending walk of an ascending field, or both reversed
        return ("gt" if strict else "gte") if forward else ("lt" if strict else "lte")

    branches = []
    for i, (name, descending) in enumerate(fields):
        equal = {fields[j][0]: values[j] for j in range(i)}
        branches.append(Q(**equal, **{f"{name}__{op(descending, True)}": values[i]}))
    first_name, first_descending = fields[0]
    leading = Q(**{f"{first_name}__{op(first_descending, False)}": values[0]})
    return leading & reduce(or_, branches)


def _key(row: Model, fields: list[tuple[str, bool]]) -> list:
    return [getattr(row, name) for name, _ in fields]


def keyset_page(
    queryset: QuerySet,
    *,
    ordering: Sequence[str],
    cursor: str | None,
    per_page: int,
) -> KeysetPage:
    """The page the cursor points at (the first page without one).

    Raises ``InvalidCursor`` for a cursor it cannot read; the caller decides whether that is
    the first page (a dashboard link) or a 4xx (an API). Two rare cases cost a second query,
    both answered with the first page read afresh: going back past the first rows, and going
    forward past the last row (the rows the cursor pointed at were deleted).
    """
    fields = _fields(ordering)
    model = queryset.model
    forward_order = list(ordering)
    backward_order = [name[1:] if name.startswith("-") else f"-{name}" for name in ordering]
    if not cursor:
        return _first_page(queryset, fields, forward_order, per_page)
    direction, values = decode_cursor(cursor, model=model, ordering=ordering)
    if direction == FORWARD:
        rows = list(
            queryset.filter(_after(fields, values, reverse=False)).order_by(*forward_order)[
                : per_page + 1
            ]
        )
        more = len(rows) > per_page
        rows = rows[:per_page]
        if not rows:
            # Past the end (the rows it pointed at are gone): start again at the top.
            return _first_page(queryset, fields, forward_order, per_page)
        return KeysetPage(
            rows,
            encode_cursor(FORWARD, _key(rows[-1], fields)) if more else None,
            encode_cursor(BACKWARD, _key(rows[0], fields)),
        )
    rows = list(
        queryset.filter(_after(fields, values, reverse=True)).order_by(*backward_order)[
            : per_page + 1
        ]
    )
    if len(rows) <= per_page:
        # Back at the start: show the first page as it is now (full, newest rows included).
        return _first_page(queryset, fields, forward_order, per_page)
    rows = rows[:per_page][::-1]
    return KeysetPage(
        rows,
        encode_cursor(FORWARD, _key(rows[-1], fields)),
        encode_cursor(BACKWARD, _key(rows[0], fields)),
    )


def _first_page(queryset: QuerySet, fields, order: list[str], per_page: int) -> KeysetPage:
    rows = list(queryset.order_by(*order)[: per_page + 1])
    more = len(rows) > per_page
    rows = rows[:per_page]
    return KeysetPage(rows, encode_cursor(FORWARD, _key(rows[-1], fields)) if more else None, None)
