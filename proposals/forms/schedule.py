"""The editor's payment schedule: an optional deposit and milestone rows, as the business types
them. Field shapes only; whether the parts add up is ``proposals.schedule``'s (the service's)."""

import re
from decimal import Decimal, InvalidOperation

from django import forms

from proposals import rules, schedule
from proposals.forms.base import text_field
from proposals.forms.sections import LocaleDecimalField


def _value_field() -> LocaleDecimalField:
    return LocaleDecimalField(
        max_digits=rules.SCHEDULE_VALUE_DIGITS[0],
        decimal_places=rules.SCHEDULE_VALUE_DIGITS[1],
        required=False,
        label="Percentage or amount",
        help_text="A percentage (30 for 30%) or an amount in the proposal's currency.",
    )


_SHARES = [(schedule.PERCENT, "Percentage of the total"), (schedule.FIXED, "Fixed amount")]


def _amount_type_field(label: str, choices: list[tuple[str, str]]) -> forms.ChoiceField:
    return forms.ChoiceField(label=label, required=False, choices=choices)


class DepositForm(forms.Form):
    """The deposit: a percentage or a fixed amount, always due on acceptance."""

    amount_type = _amount_type_field("Deposit", [("", "No deposit"), *_SHARES])
    TYPE_MISSING = "Choose a percentage or a fixed amount."
    value = _value_field()
    label = text_field(rules.MAX_NAME, required=False, label="Label (optional)")

    def __init__(self, *args, locale: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        value = self.fields["value"]
        assert isinstance(value, LocaleDecimalField)  # declared above
        value.locale = locale

    def clean(self):
        data = super().clean()
        # A number typed with no kind chosen is not a row to drop silently.
        if data.get("value") is not None and not data.get("amount_type"):
            self.add_error("amount_type", self.TYPE_MISSING)
        return data

    def is_blank(self) -> bool:
        return not self.cleaned_data.get("amount_type")

    def as_part(self) -> dict:
        d = self.cleaned_data
        return {
            "kind": schedule.DEPOSIT,
            "label": d.get("label") or "",
            "amount_type": d["amount_type"],
            "value": d.get("value"),
            "due": schedule.ON_ACCEPTANCE,
        }


class MilestoneForm(DepositForm):
    """One milestone: a percentage, a fixed amount or the balance, due on a date or N days
    after acceptance. A row left blank is ignored."""

    amount_type = _amount_type_field(
        "Payment", [("", "—"), *_SHARES, (schedule.BALANCE, "The balance (what is left)")]
    )
    TYPE_MISSING = "Choose a percentage, a fixed amount or the balance."
    due = forms.ChoiceField(
        label="Due",
        required=False,
        choices=[
            (schedule.DAYS_AFTER, "Days after acceptance"),
            (schedule.ON_DATE, "On a date"),
        ],
    )
    # A text input, as every number in the editor (a type=number input drops what the
    # browser's locale doesn't read before the server sees it: forms.sections).
    due_days = forms.IntegerField(
        label="Days after acceptance",
        required=False,
        min_value=0,
        max_value=rules.MAX_DUE_DAYS,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    due_date = forms.DateField(
        label="Due date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def is_blank(self) -> bool:
        d = self.cleaned_data
        return not (d.get("amount_type") or d.get("value") is not None or d.get("label"))

    def as_part(self) -> dict:
        d = self.cleaned_data
        return {
            **super().as_part(),
            "kind": schedule.MILESTONE,
            "due": d.get("due") or "",
            "due_days": d.get("due_days"),
            "due_date": d.get("due_date"),
        }


class ScheduleEditor:
    """The deposit (``ps-d-*``) and milestone rows (``ps-<i>-*``, counted by ``ps-count``).

    As ``SectionsEditor``: a count that is damaged or leaves posted rows out is an error and
    nothing is saved; "+ Add payment" posts the form back with one more row (no JavaScript).
    The service's refusals (``proposals.schedule``) land in ``errors``, shown with the rows.
    """

    DAMAGED = (
        "The payment schedule arrived incomplete (its row count is damaged), so nothing was "
        "saved. Reload the page and enter it again."
    )
    _ROW_KEY = re.compile(r"^ps-(\d+)-[a-z_]+$")

    def __init__(
        self, data=None, *, initial: list[dict] | None = None, extra: int = 1, locale=None
    ):
        self.locale = locale
        self.posted = False  # bound to a form that had the schedule's rows
        self.errors: list[str] = []
        self.milestones: list[MilestoneForm] = []
        if data is not None:
            self.deposit = DepositForm(data, prefix="ps-d", locale=locale)
            self._bind(data)
        else:
            parts = initial or []
            deposit = next((p for p in parts if p.get("kind") == schedule.DEPOSIT), None)
            self.deposit = DepositForm(
                initial=_initial(deposit) if deposit else None, prefix="ps-d", locale=locale
            )
            rows = [_initial(p) for p in parts if p.get("kind") == schedule.MILESTONE]
            self._unbound(rows + [{}] * extra)

    def _bind(self, data) -> None:
        self.posted = "ps-count" in data or any(key.startswith("ps-") for key in data.keys())
        raw = str(data.get("ps-count", "0")).strip()
        if not (raw.isascii() and raw.isdigit()):
            self.errors.append(self.DAMAGED)
            return
        count = int(raw)
        if count > rules.MAX_MILESTONES:
            self.errors.append(rules.TOO_MANY_MILESTONES)
            return
        self.milestones = [
            MilestoneForm(data, prefix=f"ps-{i}", locale=self.locale) for i in range(count)
        ]
        for key in data.keys():
            match = self._ROW_KEY.match(key)
            if match and int(match[1]) >= count and (data.get(key) or "").strip():
                self.errors.append(self.DAMAGED)
                return

    def _unbound(self, rows: list[dict]) -> None:
        self.milestones = [
            MilestoneForm(initial=row or None, prefix=f"ps-{i}", locale=self.locale)
            for i, row in enumerate(rows[: rules.MAX_MILESTONES])
        ]

    @property
    def can_add(self) -> bool:
        return len(self.milestones) < rules.MAX_MILESTONES

    def unbound_copy(self, *, add_row: bool = False) -> "ScheduleEditor":
        """The posted rows as initial values (after "+ Add payment"), one more if asked."""
        copy = ScheduleEditor(initial=[], extra=0, locale=self.locale)
        copy.deposit = DepositForm(
            initial={name: self.deposit[name].value() for name in self.deposit.fields},
            prefix="ps-d",
            locale=self.locale,
        )
        rows = [{name: row[name].value() for name in row.fields} for row in self.milestones]
        copy._unbound(rows + ([{}] if add_row else []))
        copy.errors = list(self.errors)
        return copy

    def is_valid(self) -> bool:
        ok = not self.errors
        ok = self.deposit.is_valid() and ok
        for row in self.milestones:
            ok = row.is_valid() and ok
        return ok

    def cleaned_schedule(self) -> list[dict] | None:
        """The parts in posted order (deposit first), blank rows left out; None when the
        form had no schedule at all (the proposal's stays as it is)."""
        if not self.posted:
            return None
        parts = [] if self.deposit.is_blank() else [self.deposit.as_part()]
        return parts + [row.as_part() for row in self.milestones if not row.is_blank()]


def _initial(part: dict) -> dict:
    """A stored part as a form's initial values (numbers as ``Decimal``, shown in the locale)."""
    initial = {k: part.get(k) for k in ("label", "amount_type", "due", "due_days", "due_date")}
    try:
        initial["value"] = Decimal(str(part["value"])) if part.get("value") else None
    except InvalidOperation:
        initial["value"] = part.get("value")
    defaults = {schedule.default_label(str(part.get("kind", "")), n) for n in range(100)}
    if initial["label"] in defaults:
        initial["label"] = ""  # a default label follows the row's place, not stored text
    return initial
