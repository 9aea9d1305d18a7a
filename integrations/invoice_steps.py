"""The outbox kind ``wix_invoice``: each invoice row worked through its steps in the
business's Wix site (the rows are written by ``integrations.invoices``).

The kind (common.outbox: batch claims with a lease, the sweeper, the one retry policy) works
each row through its steps, each one safe to repeat:

1. **create** — a draft invoice for the client's Wix contact, our ``reference`` written into its
   extended fields. ``create_attempted_at`` is committed *before* the call; a row that has tried
   before (a timeout after Wix created it, a dropped answer, a worker killed before the id was
   recorded) first looks for its invoice — the client's invoices created since that moment,
   matched on the reference in our code, so the lookup needs no filter on the reference
   itself (docs/wix-apis.md: whether Wix filters on extended fields is not documented) — and
   adopts it. Exactly one Wix invoice per scheduled payment.
2. **publish** — only while Wix says the invoice is a ``DRAFT`` (a number is allocated).
3. **send** — when the payment is due, only while Wix has not marked it ``SENT``.
4. **watch** — the payment status read back (Wix sends apps no invoice events we could find:
   a bounded poll), until it is paid or voided, or ``WATCH_DAYS`` after it was due.

A refusal about the business (428: Invoices not enabled on the site yet; 403: the app lacks
the permission; 400: Wix refused what we sent) is permanent: the row fails with a reason the
business reads on the proposal and support sees in the admin. Wix being unavailable is not:
the row waits out the retry policy.
"""

from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from django.db.models import F
from django.utils import timezone

from common import outbox
from common.money import quantize
from integrations.kinds import WIX_INVOICE, commits_without_waiting
from integrations.models import WixInvoice
from integrations.wix.client import WixClient, WixError, calls_recorded_in_bulk
from proposals.models import Activity
from proposals.timeline import activity_record

log = structlog.get_logger(__name__)

State, Step, Payment = WixInvoice.State, WixInvoice.Step, WixInvoice.Payment

# Our app's namespace in an invoice's extended fields (the reference that finds it again).
NAMESPACE = "@proposals/payments"
# How far before ``create_attempted_at`` the lookup reaches: clocks of Wix and ours differ.
CLOCK_SKEW = timedelta(minutes=10)
# The payment status is read again this often while unpaid, and no longer than this after
# the payment was due.
WATCH_EVERY = timedelta(hours=6)
WATCH_DAYS = 60
# Why a refusal is the business's to fix, by Wix's HTTP status.
PERMANENT_REASONS = {
    428: "Wix Invoices is not yet available on this site (Wix is enabling it; try again later)",
    403: "the app may not manage invoices on this site (grant the Manage Invoices permission)",
    404: "the invoice no longer exists in Wix",
}


def wix_invoices_work(batch: outbox.Batch) -> list[WixInvoice]:
    """The kind's work: each claimed row as far as its steps go now; one row's failure never
    stops the rest. Returns the rows not started (the drain's time is up)."""
    with commits_without_waiting(), calls_recorded_in_bulk():
        for index, row in enumerate(batch.rows):
            if batch.out_of_time():
                return batch.rows[index:]
            context: dict[str, object] = {"wix_invoice_id": row.pk, "proposal_id": row.proposal_id}
            if row.request_id:
                context["request_id"] = row.request_id
            with structlog.contextvars.bound_contextvars(**context):
                batch.count(_work_one(row))
    return []


def wix_invoices_interrupted(ids: list[int], *, now) -> int:
    """The sweeper took these rows back (their worker died): the attempt counts."""
    return WixInvoice.objects.filter(pk__in=ids).update(attempt_count=F("attempt_count") + 1)


def _work_one(row: WixInvoice) -> str:
    if row.attempt_count >= WIX_INVOICE.setting("MAX_ATTEMPTS"):
        return _fail(row, row.last_error or "gave up: the last allowed attempt did not finish")
    if not row.business.is_active:
        return _fail(row, "the app was removed from the Wix site")
    row.attempt_count += 1
    try:
        return _steps(row, WixClient.for_business(row.business))
    except WixError as exc:
        if exc.permanent:
            reason = PERMANENT_REASONS.get(exc.status or 0) or f"Wix refused: {exc.message}"
            return _fail(row, reason[:500])
        return _retry(row, exc.message, retry_after=exc.retry_after)
    except Exception as exc:  # a bug on one row: logged, retried on the policy
        log.exception("wix_invoice_crashed")
        return _retry(row, f"{exc.__class__.__name__}: {exc}")


def _steps(row: WixInvoice, wix: WixClient) -> str:
    invoice: dict | None = None
    if row.step == Step.CREATE:
        contact_id = row.proposal.client.wix_contact_id
        if not contact_id:
            # The contact sync recorded with the acceptance has not run yet (or is retrying).
            return _retry(row, "waiting for the client to become a contact of the Wix site")
        invoice = _find(wix, row, contact_id) if row.create_attempted_at else None
        if invoice is not None:
            log.info("wix_invoice_adopted", wix_invoice=invoice["id"])
        else:
            _mark_create_attempted(row)
            invoice = wix.create_invoice(_invoice_body(row, contact_id))  # never retried blind
            log.info("wix_invoice_created", wix_invoice=invoice["id"])
        if not _record_created(row, invoice):
            return "lost"  # another worker holds it now (our lease ran out)
    if row.step == Step.PUBLISH:
        invoice = invoice or wix.get_invoice(row.wix_invoice_id)
        if invoice.get("status") == "DRAFT":
            invoice = wix.publish_invoice(row.wix_invoice_id)
            log.info("wix_invoice_published", number=_number(invoice))
        row.number = _number(invoice) or row.number
        row.step = Step.SEND
        if row.due_at > timezone.now():
            return _wait(row, until=row.due_at, outcome="published")
    if row.step == Step.SEND:
        invoice = invoice or wix.get_invoice(row.wix_invoice_id)
        if "SENT" not in (invoice.get("statusQualifiers") or []):
            invoice = wix.send_invoice(row.wix_invoice_id)
            log.info("wix_invoice_sent", number=row.number)
        # On the move to watching, whoever sent it (a worker lost after the send is seen here).
        _timeline(row, Activity.Kind.INVOICE_SENT)
        row.sent_at = row.sent_at or timezone.now()
        row.step = Step.WATCH
        _payment_read(row, invoice)
        return _watch_or_done(row, outcome="sent")
    invoice = wix.get_invoice(row.wix_invoice_id)
    was = row.payment
    _payment_read(row, invoice)
    if row.payment != was and row.payment != Payment.UNPAID:
        _timeline(row, Activity.Kind.INVOICE_PAYMENT)
    return _watch_or_done(row, outcome="watched")


def _timeline(row: WixInvoice, kind: str, **details) -> None:
    """The proposal's timeline hears of it (proposals' one way to write an event)."""
    activity_record(
        business_id=row.business_id,
        proposal_id=row.proposal_id,
        kind=kind,
        actor_type=Activity.Actor.SYSTEM,
        details={
            "invoice_id": row.pk,
            "label": row.label,
            "amount": str(row.amount),
            "number": row.number,
            "payment": row.payment,
            "paid_amount": str(row.paid_amount),
            **details,
        },
        origin_request_id=row.request_id,
    )


def _invoice_body(row: WixInvoice, contact_id: str) -> dict:
    proposal = row.proposal
    price = str(quantize(row.amount, row.currency))
    return {
        "title": f"{proposal.title} — {row.label}"[:200],
        "customerInfo": {"contactId": contact_id},
        "currency": row.currency,
        "dueDate": row.due_at.date().isoformat(),
        "lineItems": [
            {
                "customItem": {
                    "name": row.label,
                    "description": f"Proposal {proposal.display_number}",
                    "quantity": "1",
                    "price": price,
                }
            }
        ],
        "extendedFields": {"namespaces": {NAMESPACE: {"reference": str(row.reference)}}},
    }


def _find(wix: WixClient, row: WixInvoice, contact_id: str) -> dict | None:
    """The invoice an earlier try created, if any: the client's invoices created since that
    try began (less the clock skew), matched on our reference."""
    assert row.create_attempted_at is not None
    since = row.create_attempted_at - CLOCK_SKEW
    candidates = wix.query_invoices(
        {
            "customerInfo.contactId": {"$eq": contact_id},
            "createdDate": {
                "$gte": since.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            },
        }
    )
    reference = str(row.reference)
    for invoice in candidates:
        ours = ((invoice.get("extendedFields") or {}).get("namespaces") or {}).get(NAMESPACE) or {}
        if ours.get("reference") == reference:
            return invoice
    return None


def _mark_create_attempted(row: WixInvoice) -> None:
    """Committed before the call (autocommit): a try that dies now is seen by the next one."""
    row.create_attempted_at = row.create_attempted_at or timezone.now()
    WixInvoice.objects.filter(pk=row.pk).update(
        create_attempted_at=row.create_attempted_at, attempt_count=row.attempt_count
    )


def _record_created(row: WixInvoice, invoice: dict) -> bool:
    """The Wix id, written once and at once: the next step can be repeated, the create not."""
    row.wix_invoice_id = str(invoice["id"])[:64]
    row.step = Step.PUBLISH
    return bool(
        WixInvoice.objects.filter(pk=row.pk, state=State.WORKING, wix_invoice_id="").update(
            wix_invoice_id=row.wix_invoice_id, step=row.step, last_error=""
        )
    )


def _number(invoice: dict) -> str:
    return str((invoice.get("numbering") or {}).get("displayNumber") or "")[:40]


def _payment_read(row: WixInvoice, invoice: dict) -> None:
    status = invoice.get("status")
    qualifiers = invoice.get("statusQualifiers") or []
    if status == "PAID":
        row.payment = Payment.PAID
    elif status == "VOIDED":
        row.payment = Payment.VOIDED
    elif "OVERDUE" in qualifiers:
        row.payment = Payment.OVERDUE
    elif status == "PARTIALLY_PAID":
        row.payment = Payment.PARTIALLY_PAID
    else:
        row.payment = Payment.UNPAID
    row.paid_amount = _paid(invoice, row.paid_amount)


def _paid(invoice: dict, known: Decimal) -> Decimal:
    """``totals.paidAmount``: a decimal string, or an object with ``amount`` (seen both ways)."""
    raw = (invoice.get("totals") or {}).get("paidAmount")
    if isinstance(raw, dict):
        raw = raw.get("amount")
    try:
        value = Decimal(str(raw))
    except ArithmeticError:
        return known
    return value if value.is_finite() and value >= 0 else known


def _watch_or_done(row: WixInvoice, *, outcome: str) -> str:
    now = timezone.now()
    finished = row.payment in (Payment.PAID, Payment.VOIDED)
    if finished or now > row.due_at + timedelta(days=WATCH_DAYS):
        _write(row, state=State.DONE, next_attempt_at=None)
        log.info("wix_invoice_done", payment=row.payment, watched_out=not finished)
        return outcome
    return _wait(row, until=now + WATCH_EVERY, outcome=outcome)


def _wait(row: WixInvoice, *, until: datetime, outcome: str) -> str:
    """This step is done; the next is due at ``until`` (a fresh count of attempts)."""
    row.attempt_count = 0
    _write(row, state=State.PENDING, next_attempt_at=until)
    return outcome


def _write(row: WixInvoice, *, state: str, next_attempt_at: datetime | None) -> None:
    row.state, row.next_attempt_at, row.claimed_until, row.last_error = (
        state,
        next_attempt_at,
        None,
        "",
    )
    WixInvoice.objects.filter(pk=row.pk, state=State.WORKING).update(
        state=state,
        next_attempt_at=next_attempt_at,
        claimed_until=None,
        last_error="",
        step=row.step,
        number=row.number,
        sent_at=row.sent_at,
        payment=row.payment,
        paid_amount=row.paid_amount,
        attempt_count=row.attempt_count,
    )


def _retry(row: WixInvoice, error: str, *, retry_after: float | None = None) -> str:
    now = timezone.now()
    retry_at = outbox.retry_at(
        WIX_INVOICE,
        attempts=row.attempt_count,
        since=max(row.due_at, row.retried_at or row.created_at),
        now=now,
        retry_after=retry_after,
    )
    if retry_at is None:
        return _fail(row, error)
    WixInvoice.objects.filter(pk=row.pk, state=State.WORKING).update(
        state=State.PENDING,
        next_attempt_at=retry_at,
        claimed_until=None,
        last_error=error[:500],
        attempt_count=row.attempt_count,
        step=row.step,
    )
    log.warning("wix_invoice_retry_scheduled", error=error, attempts=row.attempt_count)
    return "retry"


def _fail(row: WixInvoice, reason: str) -> str:
    failed = WixInvoice.objects.filter(pk=row.pk, state=State.WORKING).update(
        state=State.FAILED,
        next_attempt_at=None,
        claimed_until=None,
        last_error=reason[:500],
        attempt_count=row.attempt_count,
        step=row.step,
    )
    if failed:
        _timeline(row, Activity.Kind.INVOICE_FAILED, reason=reason)
    log.warning("wix_invoice_failed", reason=reason, step=row.step)
    return "failed"
