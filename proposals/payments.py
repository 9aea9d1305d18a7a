"""Where each payment of an accepted proposal stands: its invoice, as the app that sends the
invoices tells (integrations registers its reader in ``AppConfig.ready()``; proposals imports no
other app). Pages and the API show it next to the schedule the client agreed to.
"""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

# Where an invoice is, and what its payment is (the API's enums).
INVOICE_STATUSES = ("scheduled", "created", "sent", "failed")
PAYMENT_STATES = ("unpaid", "partially_paid", "paid", "overdue", "voided")


@dataclass(frozen=True)
class PaymentProgress:
    """One scheduled payment's invoice: where it is (``status``), its number, what was paid."""

    status: str  # one of INVOICE_STATUSES
    payment: str  # one of PAYMENT_STATES
    number: str = ""
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


def register_progress_reader(reader: Reader) -> None:
    if reader not in _readers:
        _readers.append(reader)


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
