"""Guarded UPDATEs of a business row (the Wix lifecycle's), in SQL assembled here, not ORM
expressions: the accounts app owns the row and the rules of what may overwrite it.

Two rules decide, in the statement itself and on the row as it is when the UPDATE takes its
lock, what Wix's word may overwrite:

- a locale or time zone the owner chose in Settings stays (``OWNER_CHOSEN``: the field and
  the flag a Settings save sets), so a Settings save racing a refresh wins;
- a plan state replaces only an older one (``plan_changed_at`` unset or not after the new
  state's time), so a late, reordered event never overwrites what a newer one decided.

The ORM can say both (``Case``/``When`` per field), but building that statement costs about
1.2 ms of CPU a call, four times a plain UPDATE and more than PostgreSQL takes to run it; every
install webhook makes one. The SQL here is assembled from the model's own column names, and
the values are prepared by each field (``get_db_prep_save``) as the ORM's UPDATE would.
"""

from collections.abc import Mapping
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Field

from accounts.models import Business
from common.compiled import CompiledRead

OWNER_CHOSEN = {"locale": "locale_chosen", "timezone": "timezone_chosen"}


def _field(name: str) -> Field:
    field = Business._meta.get_field(name)
    assert isinstance(field, Field)  # a column of the row, not a relation's other side
    return field


@cache
def _column(name: str) -> str:
    column = _field(name).column
    assert column is not None
    return connection.ops.quote_name(column)


def _older_plan_sql() -> str:
    """True while the row's plan state is older than the one bound to the placeholder."""
    changed_at = _column("plan_changed_at")
    return f"({changed_at} IS NULL OR {changed_at} <= %s)"


def _prepared(name: str, value: object) -> Any:
    return _field(name).get_db_prep_save(value, connection)


def _returning() -> bool:
    """UPDATE … RETURNING: PostgreSQL, SQLite from 3.35 (the flag Django sets for both)."""
    return connection.features.can_return_columns_from_insert


def _update_sql(
    *, pk: int, values: Mapping[str, object], plan: Mapping[str, object], plan_only: bool
) -> tuple[str, list[Any]]:
    assignments: list[str] = []
    params: list[Any] = []
    for field, value in values.items():
        column = _column(field)
        if field in OWNER_CHOSEN:
            chosen = _column(OWNER_CHOSEN[field])
            assignments.append(f"{column} = CASE WHEN {chosen} THEN {column} ELSE %s END")
        else:
            assignments.append(f"{column} = %s")
        params.append(_prepared(field, value))
    where = f"{_column('id')} = %s"
    where_params: list[Any] = [pk]
    if plan:
        changed_at = _prepared("plan_changed_at", plan["plan_changed_at"])
        for field, value in plan.items():
            column = _column(field)
            if plan_only:
                assignments.append(f"{column} = %s")
                params.append(_prepared(field, value))
            else:
                older = _older_plan_sql()
                assignments.append(f"{column} = CASE WHEN {older} THEN %s ELSE {column} END")
                params.extend([changed_at, _prepared(field, value)])
        if plan_only:
            where += f" AND {_older_plan_sql()}"
            where_params.append(changed_at)
    table = connection.ops.quote_name(Business._meta.db_table)
    sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {where}"  # noqa: S608 (columns only)
    return sql, [*params, *where_params]


def business_update(
    *,
    pk: int,
    values: Mapping[str, object],
    plan: Mapping[str, object] | None = None,
    plan_only: bool = False,
) -> int:
    """UPDATE the business ``pk``; the rows changed (0 or 1).

    ``values`` are written as given, except the ``OWNER_CHOSEN`` fields, which keep what the
    owner chose. ``plan`` (``_plan_state``: plan, plan_changed_at and maybe plan_product_id) is
    written only over an older plan state; with ``plan_only`` the whole UPDATE is conditional
    on it (0: a newer state exists), otherwise the other values are written regardless.
    """
    sql, params = _update_sql(pk=pk, values=values, plan=plan or {}, plan_only=plan_only)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


# What the refresh reads back: what the owner chose, and whether its plan state was written.
_STORED = ("locale", "timezone", "locale_chosen", "timezone_chosen")
_STORED_READ = CompiledRead(
    lambda pk: (
        Business.objects.filter(pk=pk).order_by().values_list(*_STORED, "plan_changed_at")[:1]
    ),
    "pk",
)


def business_refresh_update(
    *, pk: int, values: Mapping[str, object], plan: Mapping[str, object]
) -> dict[str, object]:
    """``business_update`` with ``plan`` written only over an older state, and what the row
    holds after it: the ``OWNER_CHOSEN`` fields and their flags, and ``plan_applied`` — in
    the same statement (``RETURNING``) where the database can, else read back."""
    sql, params = _update_sql(pk=pk, values=values, plan=plan, plan_only=False)
    if not _returning():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
        [(*row, changed_at)] = _STORED_READ.rows(pk=pk)
        stored = dict(zip(_STORED, row, strict=True))
        stored["plan_applied"] = bool(plan) and changed_at == plan["plan_changed_at"]
        return stored
    returned = [_column(field) for field in _STORED]
    if plan:
        # Written only if it was older: the row then holds exactly this state's time.
        returned.append(f"{_column('plan_changed_at')} = %s")
        params.append(_prepared("plan_changed_at", plan["plan_changed_at"]))
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} RETURNING {', '.join(returned)}", params)
        row = cursor.fetchone()
    stored = dict(zip(_STORED, row[: len(_STORED)], strict=True))
    for flag in OWNER_CHOSEN.values():
        stored[flag] = bool(stored[flag])  # SQLite answers 0 and 1
    stored["plan_applied"] = bool(plan) and bool(row[len(_STORED)])
    return stored
