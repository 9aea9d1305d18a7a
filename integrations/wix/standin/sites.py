"""What the stand-in holds per Wix site for the business APIs (invoices, catalog), and the
query language those APIs share (development and tests only).

A site's data lives beside ``StandinState.instances`` and is dropped with it: ``/__reset``
replaces that dict, so data kept for the old one is never seen again. Every function here
expects the caller to hold ``state.lock``.

Site switches are seeded with ``POST /__instances`` like the site's other details:
    invoices_access   "ok" (default) | "not_migrated" (every invoice call: 428) | "forbidden" (403)
    stores_catalog    "V1_CATALOG" (default) | "V3_CATALOG" | "not_installed" (V1 calls: 428)
                      | "forbidden" (403)
    bookings_access   "ok" (default) | "not_installed" (428) | "forbidden" (403)
    products          seed list for Stores, see ``catalog``
    services          seed list for Bookings, see ``catalog``
"""

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Wix's answer to a call its permissions do not allow (quoted in docs/wix-apis.md).
FORBIDDEN_MESSAGE = "the auth identity is not allowed on this resource for this site/account"

Answer = tuple[int, dict, dict]


@dataclass
class SiteData:
    """The invoices and the numbering of one site."""

    invoices: dict[str, dict] = field(default_factory=dict)
    next_number: int = 1
    sends: list[dict] = field(default_factory=list)


def site(state, instance_id: str) -> SiteData:
    book: tuple[object, dict[str, SiteData]] | None = getattr(state, "_business_sites", None)
    if book is None or book[0] is not state.instances:
        book = (state.instances, {})
        state._business_sites = book
    return book[1].setdefault(instance_id, SiteData())


def error(status: int, message: str, code: str | None = None) -> Answer:
    payload: dict = {"message": message}
    if code:
        payload["details"] = {"applicationError": {"code": code, "description": message}}
    return status, payload, {}


def refusal(access: str, app: str) -> Answer | None:
    """The answer of a site whose switch for ``app`` refuses the call, or None."""
    if access == "forbidden":
        return error(403, FORBIDDEN_MESSAGE)
    if access == "not_installed":
        return error(428, f"App not installed: {app}")
    if access == "not_migrated":
        return error(428, f"This site can't use the {app} API until Wix migrates it")
    return None


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class QueryError(ValueError):
    """A filter, sort or paging the endpoint does not support (answered 400)."""


def lookup(obj, path: str):
    for part in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def _as_text(value) -> str:
    return value.lower() if isinstance(value, str) else ""


def _test(value, op: str, operand) -> bool:
    if op == "$eq":
        return value == operand
    if op == "$ne":
        return value != operand
    if op == "$in":
        if not isinstance(operand, list):
            raise QueryError("$in takes a list")
        return value in operand
    if op == "$exists":
        return (value is not None) == bool(operand)
    if op == "$startsWith":
        return _as_text(value).startswith(_as_text(operand))
    if op == "$contains":
        return _as_text(operand) in _as_text(value)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if value is None:
            return False
        try:
            return {
                "$gt": value > operand,
                "$gte": value >= operand,
                "$lt": value < operand,
                "$lte": value <= operand,
            }[op]
        except TypeError as exc:
            raise QueryError(f"{op} cannot compare these values") from exc
    raise QueryError(f"unsupported operator {op}")


def _prefix_operators(key: str, fields: dict[str, set[str]]) -> set[str] | None:
    for name, operators in fields.items():
        if name.endswith("*") and key.startswith(name[:-1]):
            return operators
    return None


def _sort_key(name: str):
    def key(item: dict):
        value = lookup(item, name)
        return (value is None, value if value is not None else "")

    return key


def check_filter(query_filter, fields: dict[str, set[str]]) -> None:
    """Refuse (QueryError) a filter on a field or with an operator the endpoint lacks."""
    if not isinstance(query_filter, dict):
        raise QueryError("filter must be an object")
    for key, condition in query_filter.items():
        if key in ("$and", "$or"):
            if not isinstance(condition, list):
                raise QueryError(f"{key} takes a list")
            for part in condition:
                check_filter(part, fields)
            continue
        allowed = fields.get(key) or _prefix_operators(key, fields)
        if allowed is None:
            raise QueryError(f"filtering on {key} is not supported")
        for op in condition if isinstance(condition, dict) else ("$eq",):
            if op not in allowed:
                raise QueryError(f"{op} is not supported on {key}")


def select(items: list[dict], query_filter, fields: dict[str, set[str]]) -> list[dict]:
    check_filter(query_filter, fields)
    return [item for item in items if matches(item, query_filter)]


def matches(obj: dict, query_filter: dict) -> bool:
    """``{"field": value | {"$op": value}, "$and": [...], "$or": [...]}``, already checked by
    ``check_filter`` (``fields`` maps each filterable field, a trailing ``*`` making it a
    prefix, to the operators it supports)."""
    for key, condition in query_filter.items():
        if key in ("$and", "$or"):
            results = [matches(obj, part) for part in condition]
            if not (all(results) if key == "$and" else any(results)):
                return False
            continue
        ops = condition if isinstance(condition, dict) else {"$eq": condition}
        if not all(_test(lookup(obj, key), op, operand) for op, operand in ops.items()):
            return False
    return True


def sort_items(items: list[dict], sort: list, sortable: set[str]) -> list[dict]:
    """``[{"fieldName": …, "order": "ASC" | "DESC"}]``, applied last key first (stable)."""
    if not isinstance(sort, list):
        raise QueryError("sort must be a list")
    for spec in reversed(sort):
        name = spec.get("fieldName") if isinstance(spec, dict) else None
        if name not in sortable:
            raise QueryError(f"sorting on {name} is not supported")
        descending = str(spec.get("order", "ASC")).upper() == "DESC"
        items = sorted(items, key=_sort_key(name))
        if descending:
            items.reverse()
    return items


def limit_of(paging: dict, *, default: int, maximum: int) -> int:
    limit = paging.get("limit", default)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 0 < limit <= maximum:
        raise QueryError(f"limit must be an integer from 1 to {maximum}")
    return limit


def encode_cursor(state: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, sort_keys=True).encode()).decode()


def decode_cursor(cursor: str) -> dict:
    try:
        state = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise QueryError("invalid cursor") from exc
    if not isinstance(state, dict) or not isinstance(state.get("offset"), int):
        raise QueryError("invalid cursor")
    return state


def cursor_page(
    items: list[dict], query: dict, *, default_limit: int, maximum: int, filtered
) -> tuple[list[dict], dict]:
    """Cursor paging as Wix query APIs do it: the first call carries ``filter``/``sort``; the
    following ones only ``cursorPaging.cursor``, which remembers them. ``filtered(items,
    filter, sort)`` applies them. Returns the page and its ``pagingMetadata``."""
    paging = query.get("cursorPaging") or {}
    limit = limit_of(paging, default=default_limit, maximum=maximum)
    if paging.get("cursor"):
        state = decode_cursor(paging["cursor"])
    else:
        state = {"offset": 0, "filter": query.get("filter") or {}, "sort": query.get("sort") or []}
    chosen = filtered(items, state.get("filter") or {}, state.get("sort") or [])
    offset = state["offset"]
    page = chosen[offset : offset + limit]
    has_next = offset + limit < len(chosen)
    metadata: dict = {"count": len(page), "hasNext": has_next, "cursors": {}}
    if has_next:
        metadata["cursors"]["next"] = encode_cursor({**state, "offset": offset + limit})
    return page, metadata


def offset_page(items: list[dict], paging: dict, *, default_limit: int, maximum: int):
    limit = limit_of(paging, default=default_limit, maximum=maximum)
    offset = paging.get("offset", 0)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise QueryError("offset must be a non-negative integer")
    return items[offset : offset + limit], limit, offset
