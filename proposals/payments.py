"""Where each payment of an accepted proposal stands: its invoice, as the app that sends the
invoices tells (integrations registers its reader in ``AppConfig.ready()``; proposals imports no
other app). Pages and the API show it next to the schedule the client agreed to.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import models


class InvoiceStatus(models.TextChoices):
    """Where a payment's invoice is (the API's ``invoice.status``)."""

    SCHEDULED = "scheduled", "Scheduled"
    CREATED = "created", "Created"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class PaymentState(models.TextChoices):
    """What the client has paid of it (the API's ``invoice.payment``; the invoicing app's rows
    store these, ``integrations.WixInvoice.Payment``)."""

    UNPAID = "unpaid", "Unpaid"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    OVERDUE = "overdue", "Overdue"
    VOIDED = "voided", "Voided"


# The API's enums.
INVOICE_STATUSES = tuple(InvoiceStatus.values)
PAYMENT_STATES = tuple(PaymentState.values)


@dataclass(frozen=True)
class PaymentProgress:
    """One scheduled payment's invoice: where it is (``status``), its number, what was paid."""

    status: str  # one of INVOICE_STATUSES
    payment: str  # one of PAYMENT_STATES
    number: str = ""
    kind: str = ""  # the schedule part's: "deposit" or "milestone" (lists only)
    paid_amount: Decimal = Decimal(0)
    reason: str = ""  # why it failed, for the business to act on

    def as_dict(self) -> dict:
        return {
            "status": self.status,
            "payment": self.payment,
            "number": self.number,
            "paid_amount": str(self.paid_amount),
            "reason": self.reason,
        }


# acceptance id → {position: progress}; one query for the lot.
Reader = Callable[[int], dict[int, PaymentProgress]]
_readers: list[Reader] = []
# proposal ids → {proposal id: its payments' progress in schedule order}; one query per page.
ListReader = Callable[[list[int]], dict[int, list[PaymentProgress]]]
_list_readers: list[ListReader] = []


def register_progress_reader(reader: Reader) -> None:
    if reader not in _readers:
        _readers.append(reader)


def register_list_reader(reader: ListReader) -> None:
    if reader not in _list_readers:
        _list_readers.append(reader)


def summaries(proposals) -> dict[int, str]:
    """A line per accepted proposal with invoices, for a list ("Deposit paid", "2 of 3 paid",
    "Payment overdue", "Invoice failed"); one query for the page, none without an accepted
    proposal on it."""
    ids = [p.pk for p in proposals if p.status == "accepted"]
    if not ids:
        return {}
    found: dict[int, list[PaymentProgress]] = {}
    for reader in _list_readers:
        found.update(reader(ids))
    return {pk: _summary(parts) for pk, parts in found.items() if parts}


def _summary(parts: list[PaymentProgress]) -> str:
    if any(p.status == InvoiceStatus.FAILED for p in parts):
        return "Invoice failed"
    if any(p.payment == PaymentState.OVERDUE for p in parts):
        return "Payment overdue"
    paid = sum(1 for p in parts if p.payment == PaymentState.PAID)
    if paid == len(parts):
        return "Paid in full"
    if paid == 0:
        sent = any(p.status == InvoiceStatus.SENT for p in parts)
        return "Invoiced" if sent else "Invoices scheduled"
    if paid == 1 and parts[0].payment == PaymentState.PAID and parts[0].kind == "deposit":
        return "Deposit paid"
    return f"{paid} of {len(parts)} paid"


def progress_of(acceptance) -> dict[int, PaymentProgress]:
    """The invoices of an acceptance's payments by position; nothing when it has no schedule
    (no query then) or no app sends invoices."""
    if acceptance is None or not acceptance.payment_schedule:
        return {}
    found: dict[int, PaymentProgress] = {}
    for reader in _readers:
        found.update(reader(acceptance.pk))
    return found


def with_progress(acceptance) -> list[dict]:
    """The acceptance's resolved payments, each with its ``invoice`` (None before there is one)."""
    progress = progress_of(acceptance)
    return [
        {**part, "invoice": progress[part["position"]].as_dict()}
        if part.get("position") in progress
        else {**part, "invoice": None}
        for part in (acceptance.payment_schedule or [])
    ]
