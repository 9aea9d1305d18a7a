"""A proposal's payment schedule: the one place it is validated and resolved into amounts.

A schedule is an optional deposit (due on acceptance) followed by milestones (due on a date or
N days after acceptance). Each part is a percentage of the accepted total, a fixed amount, or
the balance (what the other parts leave; the last part only). The accepted total depends on
the optional items the client ticks, so the schedule is checked against every total the
client can choose: the smallest (no optional item) and the largest (all of them).

- ``clean_schedule`` validates what every door posts (dashboard editor, API, templates, and the
  services again) and returns the stored JSON; a ``ValidationError`` on ``payment_schedule``
  otherwise, and nothing is saved.
- ``resolve_schedule`` turns a clean schedule into concrete parts for an accepted total and an
  acceptance day: a pure function. Each percentage is rounded half-up to the currency's minor
  units (never to more than is left, so no part is negative) and the last part takes the
  rounding, so the parts always sum exactly to the total.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError

from common.money import HUNDRED, ZERO, compute_totals, format_money, minor_units, quantize
from proposals import rules

FIELD = "payment_schedule"

DEPOSIT, MILESTONE = "deposit", "milestone"
KINDS = (DEPOSIT, MILESTONE)
PERCENT, FIXED, BALANCE = "percent", "fixed", "balance"
AMOUNT_TYPES = (PERCENT, FIXED, BALANCE)
ON_ACCEPTANCE, ON_DATE, DAYS_AFTER = "acceptance", "date", "days_after"
DUE_RULES = (ON_ACCEPTANCE, ON_DATE, DAYS_AFTER)
MAX_PARTS = 1 + rules.MAX_MILESTONES


def _refuse(message: str) -> ValidationError:
    return ValidationError({FIELD: message})


def default_label(kind: str, milestone_number: int) -> str:
    return "Deposit" if kind == DEPOSIT else f"Payment {milestone_number}"


def _number(value: object, where: str, what: str) -> Decimal:
    number = rules.input_decimal(value)
    if number is None:
        raise _refuse(f"{where}: enter the {what} as a number.")
    return number


def _places(number: Decimal) -> int:
    exponent = number.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _clean_value(part: dict, amount_type: str, currency: str, where: str) -> Decimal | None:
    value = part.get("value")
    if amount_type == BALANCE:
        if value not in (None, ""):
            raise _refuse(f"{where}: a balance payment has no amount of its own.")
        return None
    if amount_type == PERCENT:
        number = _number(value, where, "percentage")
        if number <= 0 or number > rules.MAX_PERCENT:
            raise _refuse(f"{where}: the percentage must be more than 0 and at most 100.")
        if _places(number) > rules.PERCENT_DIGITS[1]:
            raise _refuse(f"{where}: a percentage has at most {rules.PERCENT_DIGITS[1]} decimals.")
        return number.quantize(Decimal(1).scaleb(-rules.PERCENT_DIGITS[1]))
    number = _number(value, where, "amount")
    if number <= 0:
        raise _refuse(f"{where}: the amount must be more than 0.")
    places = minor_units(currency)
    if _places(number) > places:
        cents = "no decimals" if places == 0 else f"at most {places} decimals"
        raise _refuse(f"{where}: amounts in {currency} have {cents}.")
    if number > rules.MAX_TOTAL:
        raise _refuse(f"{where}: the amount must stay below {rules.MAX_TOTAL:,}.")
    return quantize(number, currency)


def _clean_due(part: dict, kind: str, today: date, where: str) -> dict:
    due = str(part.get("due") or (ON_ACCEPTANCE if kind == DEPOSIT else "")).strip()
    if kind == DEPOSIT:
        if due != ON_ACCEPTANCE:
            raise _refuse(f"{where}: a deposit is due on acceptance.")
        return {"due": ON_ACCEPTANCE, "due_date": None, "due_days": None}
    if due == ON_DATE:
        raw = part.get("due_date")
        try:
            day = raw if isinstance(raw, date) else date.fromisoformat(str(raw or ""))
        except ValueError:
            raise _refuse(f"{where}: enter the due date (YYYY-MM-DD).") from None
        if day < today:
            raise _refuse(f"{where}: the due date {day.isoformat()} has already passed.")
        if day > today + rules.MAX_VALIDITY:
            raise _refuse(f"{where}: choose a due date within the next ten years.")
        return {"due": ON_DATE, "due_date": day.isoformat(), "due_days": None}
    if due == DAYS_AFTER:
        raw = part.get("due_days")
        if isinstance(raw, bool) or not str(raw if raw is not None else "").strip().isdigit():
            raise _refuse(f"{where}: the days after acceptance are a whole number, 0 or more.")
        days = int(str(raw).strip())
        if days > rules.MAX_DUE_DAYS:
            raise _refuse(f"{where}: at most {rules.MAX_DUE_DAYS} days after acceptance.")
        return {"due": DAYS_AFTER, "due_date": None, "due_days": days}
    raise _refuse(f"{where}: choose when it is due (on a date, or days after acceptance).")


def _clean_part(part: object, *, index: int, milestones: int, currency: str, today: date) -> dict:
    if not isinstance(part, dict):
        raise _refuse(f"Payment {index}: must be an object.")
    kind = str(part.get("kind") or "").strip()
    if kind not in KINDS:
        raise _refuse(f"Payment {index}: the kind is “deposit” or “milestone”.")
    where = "The deposit" if kind == DEPOSIT else f"Payment {index}"
    if kind == DEPOSIT and index != 1:
        raise _refuse("A schedule has at most one deposit, and it comes first.")
    amount_type = str(part.get("amount_type") or "").strip()
    if amount_type not in AMOUNT_TYPES:
        raise _refuse(f"{where}: choose a percentage, a fixed amount or the balance.")
    if amount_type == BALANCE and kind == DEPOSIT:
        raise _refuse("The deposit is a percentage or a fixed amount, not the balance.")
    label = str(part.get("label") or "").strip() or default_label(kind, milestones)
    if len(label) > rules.MAX_NAME:
        raise _refuse(f"{where}: the label is too long ({rules.MAX_NAME} characters max).")
    value = _clean_value(part, amount_type, currency, where)
    return {
        "kind": kind,
        "label": label,
        "amount_type": amount_type,
        "value": None if value is None else str(value),
        **_clean_due(part, kind, today, where),
    }


def total_range(sections: list[dict], currency: str) -> tuple[Decimal, Decimal]:
    """The smallest and the largest total the client can accept (no option / every option)."""
    items = [item for section in sections for item in section.get("items", [])]
    lines = rules.line_inputs(items)
    smallest = compute_totals([replace(line, selected=False) for line in lines], currency)
    largest = compute_totals([replace(line, selected=True) for line in lines], currency)
    return smallest.total, largest.total


def _exact_sum(parts: Iterable[dict], total: Decimal) -> Decimal:
    """What the percentage and fixed parts come to, unrounded, for ``total``."""
    amount = ZERO
    for part in parts:
        if part["amount_type"] == PERCENT:
            amount += total * Decimal(part["value"]) / HUNDRED
        elif part["amount_type"] == FIXED:
            amount += Decimal(part["value"])
    return amount


def _check_adds_up(parts: list[dict], currency: str, sections: list[dict]) -> None:
    percent = sum((Decimal(p["value"]) for p in parts if p["amount_type"] == PERCENT), ZERO)
    if percent > HUNDRED:
        raise _refuse(f"The percentages add up to {percent.normalize():f}%: at most 100%.")
    has_balance = parts[-1]["amount_type"] == BALANCE
    has_fixed = any(p["amount_type"] == FIXED for p in parts)
    if not has_balance and not has_fixed and percent != HUNDRED:
        raise _refuse(
            f"The percentages add up to {percent.normalize():f}%, not 100%: adjust them, "
            "or end the schedule with a balance payment that takes the rest."
        )
    if not has_fixed:
        return
    smallest, largest = total_range(sections, currency)
    if has_balance:
        if _exact_sum(parts, smallest) > smallest:
            raise _refuse(
                "The fixed amounts and percentages come to more than the total of "
                f"{format_money(smallest, currency)} (without optional items): "
                "lower them so that the balance is not negative."
            )
        return
    for total in {smallest, largest}:
        amount = _exact_sum(parts, total)
        if amount != total:
            raise _refuse(
                f"The payments come to {format_money(amount, currency)}, not the total of "
                f"{format_money(total, currency)}"
                + (" (the total changes with the optional items the client picks)"
                   if smallest != largest else "")
                + ": end the schedule with a balance payment that takes the rest."
            )  # fmt: skip


def clean_schedule(
    parts: object, *, currency: str, sections: list[dict], today: date
) -> list[dict]:
    """Validate a payment schedule against the proposal's content; return it as stored.

    ``sections`` are the proposal's (or template's) sections of items; ``today`` is the
    business's own date (a due date before it is refused). An empty schedule is valid: the
    proposal then has no payment terms.
    """
    if parts in (None, ""):
        return []
    if not isinstance(parts, list):
        raise _refuse("The payment schedule must be a list of payments.")
    if len(parts) > MAX_PARTS:
        raise _refuse(rules.TOO_MANY_MILESTONES)
    cleaned: list[dict] = []
    milestones = 0
    for index, part in enumerate(parts, start=1):
        if isinstance(part, dict) and part.get("kind") == MILESTONE:
            milestones += 1
        cleaned.append(
            _clean_part(part, index=index, milestones=milestones, currency=currency, today=today)
        )
    if milestones > rules.MAX_MILESTONES:
        raise _refuse(rules.TOO_MANY_MILESTONES)
    balances = [i for i, p in enumerate(cleaned) if p["amount_type"] == BALANCE]
    if balances and balances != [len(cleaned) - 1]:
        raise _refuse("Only the last payment can be the balance.")
    if cleaned:
        _check_adds_up(cleaned, currency, sections)
    return cleaned


def check_due_dates(parts: list[dict], *, today: date) -> None:
    """Sending: refuse a schedule whose due date passed since it was written."""
    for index, part in enumerate(parts, start=1):
        if part.get("due") == ON_DATE and date.fromisoformat(part["due_date"]) < today:
            raise _refuse(
                f"Payment {index} was due on {part['due_date']}, which has passed: "
                "edit the payment schedule before sending."
            )


@dataclass(frozen=True)
class ResolvedPart:
    """One scheduled payment of an accepted proposal: what a payment request (an invoice) needs.

    ``position`` (1-based, the schedule's order) is stable for one acceptance, so a later step
    can key one invoice per part on (acceptance, position). ``amount`` may be 0 (a free
    proposal, a 0-minor-unit currency's rounding): nothing is to be requested for it.
    """

    position: int
    kind: str
    label: str
    amount_type: str
    percent: Decimal | None
    amount: Decimal
    currency: str
    due: str
    due_date: date

    def as_dict(self) -> dict:
        return {
            "position": self.position,
            "kind": self.kind,
            "label": self.label,
            "amount_type": self.amount_type,
            "percent": None if self.percent is None else str(self.percent),
            "amount": str(self.amount),
            "currency": self.currency,
            "due": self.due,
            "due_date": self.due_date.isoformat(),
        }


def _due_date(part: dict, accepted_on: date) -> date:
    if part["due"] == DAYS_AFTER:
        return accepted_on + timedelta(days=int(part["due_days"]))
    if part["due"] == ON_DATE:
        # A date that passed before the client accepted is due at once, never in the past.
        return max(date.fromisoformat(part["due_date"]), accepted_on)
    return accepted_on


def resolve_schedule(
    parts: list[dict], *, total: Decimal, currency: str, accepted_on: date
) -> tuple[ResolvedPart, ...]:
    """A clean schedule as concrete amounts and due dates for the total the client accepted.

    The last part takes the rounding (and a balance part whatever the others leave), so the
    amounts always sum to ``total`` exactly.
    """
    total = quantize(total, currency)
    resolved = []
    remaining = total
    for position, part in enumerate(parts, start=1):
        if position == len(parts):
            amount = remaining
        elif part["amount_type"] == PERCENT:
            share = quantize(total * Decimal(part["value"]) / HUNDRED, currency)
            amount = min(share, remaining)  # rounding up never takes more than is left
        else:  # fixed (a balance part is always the last)
            amount = min(Decimal(part["value"]), remaining)
        remaining -= amount
        resolved.append(
            ResolvedPart(
                position=position,
                kind=part["kind"],
                label=part["label"],
                amount_type=part["amount_type"],
                percent=Decimal(part["value"]) if part["amount_type"] == PERCENT else None,
                amount=amount,
                currency=currency,
                due=part["due"],
                due_date=_due_date(part, accepted_on),
            )
        )
    return tuple(resolved)


def payment_due_at(payment: dict, *, tz_name: str, accepted_at: datetime) -> datetime:
    """When a resolved payment (``ResolvedPart.as_dict()``, as an acceptance stores it) is due:
    the start of its due day where the business is, never before the acceptance itself (a
    deposit is due the moment the client accepts). What a payment request is sent at."""
    day = date.fromisoformat(payment["due_date"])
    start = datetime.combine(day, time.min, tzinfo=rules.business_zone(tz_name))
    return max(start, accepted_at)
