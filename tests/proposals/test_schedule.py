"""The payment schedule's rules (proposals.schedule): what is refused, and the resolved parts."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from proposals import rules
from proposals.schedule import clean_schedule, payment_due_at, resolve_schedule, total_range

TODAY = date(2027, 3, 10)


def lines(*prices: str, optional: tuple[str, ...] = (), tax: str = "0") -> list[dict]:
    items = [
        {"name": f"Line {p}", "quantity": "1", "unit_price": p, "tax_rate": tax, "optional": False}
        for p in prices
    ]
    items += [
        {"name": f"Option {p}", "quantity": "1", "unit_price": p, "optional": True}
        for p in optional
    ]
    return rules.clean_sections([{"title": "", "items": items}])


def deposit(amount_type="percent", value="30") -> dict:
    return {"kind": "deposit", "amount_type": amount_type, "value": value}


def milestone(amount_type="percent", value="70", due="days_after", **extra) -> dict:
    part = {"kind": "milestone", "amount_type": amount_type, "value": value, "due": due}
    if due == "days_after":
        part.setdefault("due_days", 30)
    part.update(extra)
    return part


def clean(parts, sections=None, currency="USD"):
    return clean_schedule(parts, currency=currency, sections=sections or lines("1000"), today=TODAY)


def refusal(parts, sections=None, currency="USD") -> str:
    with pytest.raises(ValidationError) as caught:
        clean(parts, sections, currency)
    return " ".join(caught.value.message_dict["payment_schedule"])


# --- edit time ---------------------------------------------------------------------------------
def test_a_deposit_and_milestones_of_100_percent_are_stored_normalised():
    stored = clean([deposit(value="30"), milestone(value="70", due_days="14")])
    assert stored == [
        {"kind": "deposit", "label": "Deposit", "amount_type": "percent", "value": "30.00",
         "due": "acceptance", "due_date": None, "due_days": None},
        {"kind": "milestone", "label": "Payment 1", "amount_type": "percent", "value": "70.00",
         "due": "days_after", "due_date": None, "due_days": 14},
    ]  # fmt: skip


def test_an_empty_schedule_is_no_payment_terms():
    assert clean([]) == [] and clean(None) == []


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([deposit(value="60"), milestone(value="60")], "add up to 120%: at most 100%"),
        ([deposit(value="30"), milestone(value="60")], "add up to 90%, not 100%"),
        ([deposit(value="-5"), milestone(value="105")], "more than 0 and at most 100"),
        ([deposit(value="0"), milestone(value="100")], "more than 0"),
        ([deposit("fixed", "0"), milestone("balance", None)], "amount must be more than 0"),
        ([deposit("fixed", "-10"), milestone("balance", None)], "amount must be more than 0"),
        ([deposit("fixed", "1200"), milestone("balance", None)], "more than the total of $1,0"),
        ([deposit(value="50"), milestone("fixed", "600"), milestone("balance", None)],
         "more than the total"),
        ([deposit(), deposit(), milestone()], "at most one deposit"),
        ([milestone(value="30"), deposit(value="70")], "at most one deposit, and it comes first"),
        ([milestone("balance", None), milestone(value="100")], "Only the last payment"),
        ([deposit("balance", None)], "not the balance"),
        ([deposit(), milestone(due="date", due_date=(TODAY - timedelta(days=1)).isoformat())],
         "has already passed"),
        ([deposit(), milestone(due_days="-1")], "whole number, 0 or more"),
        ([deposit(), milestone(due_days=rules.MAX_DUE_DAYS + 1)], "days after acceptance"),
        ([deposit(), milestone(due="")], "choose when it is due"),
        ([{**deposit(), "due": "date"}, milestone()], "a deposit is due on acceptance"),
        ([deposit("fixed", "100.5"), milestone("balance", None)], "JPY have no decimals"),
        ([deposit(value="33.333"), milestone("balance", None)], "at most 2 decimals"),
        ([deposit("fixed", "300"), milestone("fixed", "600")], "$900.00, not the total of $1,0"),
        ("30%", "must be a list"),
        ([{"kind": "instalment"}], "“deposit” or “milestone”"),
    ],
)  # fmt: skip
def test_schedules_that_do_not_add_up_or_are_malformed_are_refused(parts, message):
    currency = "JPY" if "JPY" in message else "USD"
    assert message in refusal(parts, currency=currency)


def test_too_many_milestones_are_refused():
    parts = [milestone(value="1") for _ in range(rules.MAX_MILESTONES)]
    parts.append(milestone("balance", None))
    assert rules.TOO_MANY_MILESTONES in refusal(parts)
    assert clean(parts[1:])  # MAX_MILESTONES (with the balance) is fine


def test_a_due_date_today_is_fine_and_a_fixed_schedule_adds_up_to_a_fixed_total():
    parts = [
        deposit("fixed", "300"),
        milestone("fixed", "700", due="date", due_date=TODAY.isoformat()),
    ]
    assert clean(parts)[1]["due_date"] == "2027-03-10"


def test_fixed_amounts_without_a_balance_fail_when_options_change_the_total():
    parts = [deposit("fixed", "300"), milestone("fixed", "700")]
    message = refusal(parts, sections=lines("1000", optional=("200",)))
    assert "changes with the optional items" in message


def test_fixed_amounts_are_checked_against_the_total_without_optional_items():
    sections = lines("500", optional=("800",))
    assert total_range(sections, "USD") == (Decimal("500.00"), Decimal("1300.00"))
    assert "$500.00 (without optional items)" in refusal(
        [deposit("fixed", "600"), milestone("balance", None)], sections=sections
    )
    assert clean([deposit("fixed", "500"), milestone("balance", None)], sections=sections)


# --- acceptance --------------------------------------------------------------------------------
ACCEPTED = date(2027, 4, 1)


def resolve(parts, total, currency="USD", sections=None):
    stored = clean(parts, sections or lines(total), currency)
    return resolve_schedule(stored, total=Decimal(total), currency=currency, accepted_on=ACCEPTED)


def test_resolved_parts_follow_the_options_the_client_ticked():
    sections = lines("1000", optional=("500",))
    parts = [deposit(value="30"), milestone("fixed", "200"), milestone("balance", None)]
    stored = clean(parts, sections)
    smallest, largest = total_range(sections, "USD")
    without = resolve_schedule(stored, total=smallest, currency="USD", accepted_on=ACCEPTED)
    with_option = resolve_schedule(stored, total=largest, currency="USD", accepted_on=ACCEPTED)
    assert [p.amount for p in without] == [Decimal("300.00"), Decimal("200.00"), Decimal("500.00")]
    assert [p.amount for p in with_option] == [
        Decimal("450.00"), Decimal("200.00"), Decimal("850.00")
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("currency", "total", "percents", "amounts"),
    [
        # No minor units: each share rounds half-up, the last takes the rest, none below 0.
        ("JPY", "1000", ["33.33", "33.33", "33.34"], ["333", "333", "334"]),
        ("JPY", "2", ["25", "25", "25", "25"], ["1", "1", "0", "0"]),
        ("JPY", "1", ["50", "50"], ["1", "0"]),
        # Three minor units: 10.001 KWD in thirds.
        ("KWD", "10.001", ["33.33", "33.33", "33.34"], ["3.333", "3.333", "3.335"]),
        ("KWD", "0.005", ["50", "50"], ["0.003", "0.002"]),
        ("USD", "100.01", ["50", "50"], ["50.01", "50.00"]),
    ],
)
def test_rounding_never_loses_or_invents_money(currency, total, percents, amounts):
    parts = [deposit(value=percents[0])] + [milestone(value=p) for p in percents[1:]]
    resolved = resolve(parts, total, currency)
    assert [str(p.amount) for p in resolved] == amounts
    assert sum(p.amount for p in resolved) == Decimal(total)
    assert all(p.amount >= 0 for p in resolved)


def test_due_dates_are_concrete_days_from_acceptance():
    later = (ACCEPTED + timedelta(days=10)).isoformat()
    passed = (TODAY + timedelta(days=1)).isoformat()  # valid when written, before acceptance
    parts = [
        deposit(value="10"),
        milestone(value="30", due_days=14),
        milestone(value="30", due="date", due_date=later),
        milestone("balance", None, due="date", due_date=passed),
    ]
    resolved = resolve(parts, "1000.00")
    assert [p.due_date for p in resolved] == [
        ACCEPTED, ACCEPTED + timedelta(days=14), ACCEPTED + timedelta(days=10), ACCEPTED
    ]  # fmt: skip
    assert resolved[0].as_dict() == {
        "position": 1, "kind": "deposit", "label": "Deposit", "amount_type": "percent",
        "percent": "10.00", "amount": "100.00", "currency": "USD", "due": "acceptance",
        "due_date": "2027-04-01",
    }  # fmt: skip


def test_no_schedule_resolves_to_no_parts():
    assert resolve_schedule([], total=Decimal("10"), currency="USD", accepted_on=ACCEPTED) == ()


def test_a_payment_is_due_at_the_start_of_its_day_and_never_before_acceptance():
    accepted_at = datetime(2027, 4, 1, 15, 30, tzinfo=UTC)
    parts = [deposit(value="10"), milestone("balance", None, due_days=2)]
    deposit_part, later = (p.as_dict() for p in resolve(parts, "1000.00"))
    assert payment_due_at(deposit_part, tz_name="Europe/Berlin", accepted_at=accepted_at) == (
        accepted_at
    )
    assert payment_due_at(later, tz_name="Europe/Berlin", accepted_at=accepted_at) == datetime(
        2027, 4, 2, 22, 0, tzinfo=UTC
    )  # 3 April, 00:00 in Berlin (summer time)
