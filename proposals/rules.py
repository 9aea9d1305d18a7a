"""Pure rules shared by services and selectors: deadlines, snapshots, hashes, validation."""

import hashlib
import json
import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

from common.locale_middleware import business_zone
from common.money import LineInput, Totals, compute_totals, is_currency

# Input limits, read by the models, the dashboard forms, the API serializers and the services:
# every door refuses beyond them with the same message (``too_long``, ``TOO_MANY_*``).
MAX_SECTIONS = 50
MAX_ITEMS = 300  # lines per proposal (or template), all sections together
MAX_NAME = 200  # a one-line name or title: the CharField columns' max_length
MAX_TEXT = 20_000  # intro, terms, a line item's description (TextField columns)
MAX_MESSAGE = 5_000  # the sender's note in the email, the client's decline reason
MAX_SEARCH = 200  # a search box's text (proposal and client lists, the client box, the API)
MAX_REMINDER_DAYS = 365  # a reminder rule's days (0 turns it off)
# Line item numbers as (max_digits, decimal_places): the DECIMAL columns, the forms and the API.
QUANTITY_DIGITS = (12, 3)
UNIT_PRICE_DIGITS = (14, 4)
PERCENT_DIGITS = (5, 2)  # discount and tax rate, 0 to 100
# A payment schedule part's percentage or amount (3 minor units at most: KWD); the schedule's
# rule bounds an amount by MAX_TOTAL.
SCHEDULE_VALUE_DIGITS = (15, 4)
MAX_PERCENT = Decimal(100)
# Where a line item came from, when it was copied from a catalog: "<source>:<id>[/<variant id>]",
# e.g. "wix-stores:<product id>/<variant id>" or "wix-bookings:<service id>". A reference
# only: the line's own name and price are what the proposal says.
LINE_SOURCES = ("wix-stores", "wix-bookings")
MAX_SOURCE = 140
# Empty, for a line typed by hand, or a reference.
SOURCE_PATTERN = r"^(?:(?:wix-stores|wix-bookings):[A-Za-z0-9_-]{1,64}(?:/[A-Za-z0-9_-]{1,64})?)?$"
_SOURCE = re.compile(SOURCE_PATTERN)
SOURCE_INVALID = "source must look like wix-stores:<id>[/<variant id>] or wix-bookings:<id>."


def largest_decimal(digits: tuple[int, int]) -> Decimal:
    """The largest value a DECIMAL(max_digits, decimal_places) column holds: 999.99 for (5, 2)."""
    max_digits, places = digits
    return Decimal(10) ** (max_digits - places) - Decimal(1).scaleb(-places)


MAX_QUANTITY = largest_decimal(QUANTITY_DIGITS)  # 999999999.999
MAX_UNIT_PRICE = largest_decimal(UNIT_PRICE_DIGITS)  # 9999999999.9999
TOO_MANY_SECTIONS = f"A proposal has at most {MAX_SECTIONS} sections."
TOO_MANY_ITEMS = f"A proposal has at most {MAX_ITEMS} lines."
MAX_VALIDITY = timedelta(days=3660)
# Totals are stored in DECIMAL(16, 4): keep every total (all options ticked) well inside it.
MAX_TOTAL = Decimal("99999999999.99")
# A payment schedule (proposals.schedule): at most one deposit, then at most this many milestones,
# each due at most MAX_DUE_DAYS after acceptance (or on a date within MAX_VALIDITY of today).
MAX_MILESTONES = 12
MAX_DUE_DAYS = 3660
TOO_MANY_MILESTONES = f"A payment schedule has at most {MAX_MILESTONES} milestones."


def too_long(limit: int) -> str:
    """What every door says about a text over its limit (forms, API and services alike)."""
    return f"At most {limit:,} characters."


def business_today(tz_name: str, now: datetime | None = None) -> date:
    """Today's date where the business is (a due date before it has passed)."""
    return (now or datetime.now(business_zone("UTC"))).astimezone(business_zone(tz_name)).date()


def expires_at(valid_until: date | None, tz_name: str) -> datetime | None:
    """A proposal valid until a date expires at the end of that day in the business's zone."""
    if valid_until is None:
        return None
    if valid_until >= date.max:
        return datetime.max.replace(tzinfo=business_zone("UTC"))
    return datetime.combine(
        valid_until + timedelta(days=1), time.min, tzinfo=business_zone(tz_name)
    )


def input_decimal(value: object) -> Decimal | None:
    """A posted number (string, int, float, Decimal) as a finite ``Decimal``; None if it isn't."""
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip()) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        return None
    return number if number is not None and number.is_finite() else None


def _decimal(value: object, *, field: str, where: str, lo: Decimal, hi: Decimal) -> Decimal:
    number = input_decimal(value)
    if number is None:
        raise ValidationError({"sections": f"{where}: {field} must be a number."})
    if number < lo or number > hi:
        raise ValidationError({"sections": f"{where}: {field} must be between {lo} and {hi}."})
    return number


def clean_sections(sections: object) -> list[dict]:
    """Validate and normalise the sections/items input of every door (forms, API, templates)."""
    if sections in (None, ""):
        return []
    if not isinstance(sections, list):
        raise ValidationError({"sections": "Sections must be a list."})
    if len(sections) > MAX_SECTIONS:
        raise ValidationError({"sections": TOO_MANY_SECTIONS})
    cleaned: list[dict] = []
    item_count = 0
    for s_index, section in enumerate(sections, start=1):
        if not isinstance(section, dict):
            raise ValidationError({"sections": f"Section {s_index} must be an object."})
        title = str(section.get("title") or "").strip()
        if len(title) > MAX_NAME:
            raise ValidationError({"sections": f"Section {s_index}: title is too long."})
        items = section.get("items") or []
        if not isinstance(items, list):
            raise ValidationError({"sections": f"Section {s_index}: items must be a list."})
        clean_items = []
        for i_index, item in enumerate(items, start=1):
            where = f"Section {s_index}, line {i_index}"
            if not isinstance(item, dict):
                raise ValidationError({"sections": f"{where} must be an object."})
            name = str(item.get("name") or "").strip()
            if not name:
                raise ValidationError({"sections": f"{where}: name is required."})
            if len(name) > MAX_NAME:
                raise ValidationError({"sections": f"{where}: name is too long ({MAX_NAME} max)."})
            description = str(item.get("description") or "")
            if len(description) > MAX_TEXT:
                raise ValidationError({"sections": f"{where}: description is too long."})
            optional = bool(item.get("optional", False))
            source = clean_source(item.get("source"), where=where)
            clean_items.append(
                {
                    "name": name,
                    "description": description.strip(),
                    "quantity": _decimal(
                        item.get("quantity", "1"), field="quantity", where=where,
                        lo=Decimal(0), hi=MAX_QUANTITY,
                    ),
                    "unit_price": _decimal(
                        item.get("unit_price"), field="unit price", where=where,
                        lo=Decimal(0), hi=MAX_UNIT_PRICE,
                    ),
                    "discount_percent": _decimal(
                        item.get("discount_percent", "0") or "0", field="discount", where=where,
                        lo=Decimal(0), hi=MAX_PERCENT,
                    ),
                    "tax_rate": _decimal(
                        item.get("tax_rate", "0") or "0", field="tax rate", where=where,
                        lo=Decimal(0), hi=MAX_PERCENT,
                    ),
                    "optional": optional,
                    "selected": bool(item.get("selected", not optional)) if optional else True,
                    "source": source,
                }
            )  # fmt: skip
        item_count += len(clean_items)
        if item_count > MAX_ITEMS:
            raise ValidationError({"sections": TOO_MANY_ITEMS})
        cleaned.append({"title": title, "items": clean_items})
    _check_total_bound(cleaned)
    return cleaned


def clean_source(value: object, *, where: str = "") -> str:
    """A line item's catalog reference ("" for a line typed by hand) or a ValidationError."""
    text = "" if value is None else str(value).strip()
    if text and not _SOURCE.match(text):
        prefix = f"{where}: " if where else ""
        raise ValidationError({"sections": f"{prefix}{SOURCE_INVALID}"})
    return text


def _check_total_bound(sections: list[dict]) -> None:
    hundred = Decimal(100)
    total = sum(
        (
            item["quantity"]
            * item["unit_price"]
            * (hundred - item["discount_percent"])
            / hundred
            * (hundred + item["tax_rate"])
            / hundred
            for section in sections
            for item in section["items"]
        ),
        Decimal(0),
    )
    if total > MAX_TOTAL:
        raise ValidationError(
            {"sections": f"The total (all options included) must stay below {MAX_TOTAL:,}."}
        )


def clean_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    if not is_currency(code):
        raise ValidationError({"currency": f"{currency!r} is not a supported currency code."})
    return code


def line_inputs(items: list[dict], selected_keys: set[str] | None = None) -> list[LineInput]:
    lines = []
    for item in items:
        optional = bool(item["optional"])
        selected = bool(item.get("selected", True))
        if optional and selected_keys is not None:
            selected = item.get("key") in selected_keys
        lines.append(
            LineInput(
                quantity=Decimal(str(item["quantity"])),
                unit_price=Decimal(str(item["unit_price"])),
                discount_percent=Decimal(str(item.get("discount_percent") or 0)),
                tax_rate=Decimal(str(item.get("tax_rate") or 0)),
                optional=optional,
                selected=selected,
                key=str(item.get("key", "")),
            )
        )
    return lines


def snapshot_totals(snapshot: dict, selected_keys: set[str] | None = None) -> Totals:
    items = [item for section in snapshot.get("sections", []) for item in section["items"]]
    return compute_totals(line_inputs(items, selected_keys), snapshot["currency"])


def canonical_hash(payload: object) -> str:
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(encoded.encode()).hexdigest()
