"""The payments of an accepted proposal as invoice rows, and where each one stands.

One ``WixInvoice`` row per scheduled payment over 0 is written in the acceptance's transaction
(``invoices_for_acceptance``, from the acceptance receiver); the outbox kind ``wix_invoice``
then works each row through its steps in the business's Wix site (``integrations.invoice_steps``).
``invoice_progress`` and ``invoice_summaries`` tell ``proposals.payments`` (which imports no
other app; registered in ``IntegrationsConfig.ready()``) where each payment's invoice is.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog
from django.utils import timezone

from common import outbox
from common.money import quantize
from common.request_id import current_request_id
from integrations.kinds import WIX_INVOICE
from integrations.models import WixInvoice
from proposals import schedule
from proposals.payments import InvoiceStatus, PaymentProgress

log = structlog.get_logger(__name__)

State, Step = WixInvoice.State, WixInvoice.Step


@dataclass(frozen=True)
class ScheduledPayment:
    """One payment of a schedule, resolved at acceptance: its place in the schedule (1-based,
    stable for the acceptance: one invoice per position), what, how much, when due."""

    position: int
    label: str
    amount: Decimal
    due_at: datetime
    kind: str = "milestone"


def invoice_progress(acceptance_id: int) -> dict[int, PaymentProgress]:
    """Where each payment of an acceptance stands (``proposals.payments`` asks, one query)."""
    rows = WixInvoice.objects.filter(acceptance_id=acceptance_id).values(
        "position", "state", "step", "payment", "number", "paid_amount", "last_error"
    )
    return {
        row["position"]: PaymentProgress(
            status=_status(row["state"], row["step"]),
            payment=row["payment"],
            number=row["number"],
            paid_amount=row["paid_amount"],
            reason=row["last_error"] if row["state"] == State.FAILED else "",
        )
        for row in rows
    }


def invoice_summaries(proposal_ids: list[int]) -> dict[int, list[PaymentProgress]]:
    """The invoices of these proposals in schedule order (a list page asks, one query)."""
    found: dict[int, list[PaymentProgress]] = {}
    rows = (
        WixInvoice.objects.filter(proposal_id__in=proposal_ids)
        .order_by("proposal_id", "position")
        .values_list("proposal_id", "kind", "state", "step", "payment")
    )
    for proposal_id, kind, state, step, payment in rows:
        found.setdefault(proposal_id, []).append(
            PaymentProgress(status=_status(state, step), payment=payment, kind=kind)
        )
    return found


def _status(state: str, step: str) -> str:
    if state == State.FAILED:
        return InvoiceStatus.FAILED
    if step == Step.WATCH or state == State.DONE:
        return InvoiceStatus.SENT
    if step in (Step.PUBLISH, Step.SEND):
        return InvoiceStatus.CREATED
    return InvoiceStatus.SCHEDULED


def invoices_for_acceptance(*, acceptance) -> list[WixInvoice]:
    """The payments the client agreed to (``Acceptance.payment_schedule``, resolved by
    ``proposals.schedule`` at acceptance) as invoice rows; a payment of 0 asks nothing."""
    business = acceptance.business
    payments = [
        ScheduledPayment(
            position=int(part["position"]),
            label=str(part["label"]),
            kind=str(part.get("kind") or "milestone"),
            amount=Decimal(part["amount"]),
            due_at=schedule.payment_due_at(
                part, tz_name=business.timezone, accepted_at=acceptance.accepted_at
            ),
        )
        for part in acceptance.payment_schedule or []
        if Decimal(part["amount"]) > 0
    ]
    currency = acceptance.payment_schedule[0]["currency"] if payments else ""
    return invoices_schedule(acceptance=acceptance, currency=currency, payments=payments)


def invoices_schedule(
    *, acceptance, currency: str, payments: Sequence[ScheduledPayment]
) -> list[WixInvoice]:
    """Record the acceptance's payments as invoice rows (inside the acceptance's transaction).

    Safe to call twice: a payment already recorded for this acceptance is kept as it is.
    """
    business = acceptance.business
    if not payments or not business.is_active:
        return []
    request_id = current_request_id() or ""
    rows = [
        WixInvoice(
            business_id=acceptance.business_id,
            proposal_id=acceptance.proposal_id,
            acceptance=acceptance,
            position=payment.position,
            kind=payment.kind,
            label=payment.label[:200],
            amount=quantize(payment.amount, currency),
            currency=currency,
            due_at=payment.due_at,
            # Created (and published) now; ``send`` waits for the due time.
            next_attempt_at=timezone.now(),
            request_id=request_id,
        )
        for payment in payments
    ]
    WixInvoice.objects.bulk_create(rows, ignore_conflicts=True)
    outbox.record_on_commit(WIX_INVOICE)
    log.info(
        "wix_invoices_scheduled",
        proposal_id=acceptance.proposal_id,
        acceptance_id=acceptance.pk,
        payments=len(rows),
    )
    return list(WixInvoice.objects.filter(acceptance=acceptance).order_by("position"))
