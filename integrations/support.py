"""Support actions on the Wix integration: replay a webhook, refresh a token, reset a breaker.

Thin on purpose: each one reuses the integration's own machinery (the receipt claim, the token
lock, the breaker row) and adds the audit row. Tokens are never returned, shown or logged.
"""

import time

import structlog
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from accounts.audit import ActionRefused, audited
from accounts.models import Business, User
from common import outbox
from integrations.kinds import WEBHOOK_RECEIPT, WIX_INVOICE
from integrations.models import CircuitBreaker, WebhookReceipt, WixAccessToken, WixInvoice
from integrations.wix import breaker as wix_breaker
from integrations.wix import client as wix_client

log = structlog.get_logger(__name__)

Status = WebhookReceipt.Status
REPLAYABLE = (Status.FAILED, Status.IGNORED, Status.PROCESSED)


def support_webhook_replay(*, receipt: WebhookReceipt, acting_user: User) -> WebhookReceipt:
    """Process a verified receipt again (after a fix or an outage). Rejected ones never are."""
    with audited(actor=acting_user, action="webhook_replay", target=receipt) as entry:
        entry.details["previous_status"] = receipt.status
        if receipt.status == Status.REJECTED or not receipt.verified:
            raise ActionRefused(
                "A rejected webhook was never verified: its content cannot be trusted.",
                code="not_verified",
            )
        if receipt.status not in REPLAYABLE:
            raise ActionRefused("This webhook is already queued or being processed.", code="busy")
        if not outbox.retry_now(WEBHOOK_RECEIPT, receipt.pk, from_states=REPLAYABLE):
            raise ActionRefused("This webhook changed meanwhile; reload the page.", code="raced")
        # A drain after the audit commits (the sweeper takes a pending receipt up anyway).
        outbox.record_on_commit(WEBHOOK_RECEIPT)
        entry.message = "Queued for processing again."
    receipt.refresh_from_db()
    return receipt


def support_invoice_retry(*, invoice: WixInvoice, acting_user: User) -> WixInvoice:
    """Try a failed invoice again (the business enabled Wix Invoices or granted the permission).

    It resumes at the step it failed in: an invoice Wix already holds is not created again.
    """
    with audited(actor=acting_user, action="wix_invoice_retry", target=invoice) as entry:
        entry.details["previous_error"] = invoice.last_error
        if invoice.state != WixInvoice.State.FAILED:
            raise ActionRefused("Only a failed invoice can be tried again.", code="not_failed")
        if not outbox.retry_now(WIX_INVOICE, invoice.pk, from_states=[WixInvoice.State.FAILED]):
            raise ActionRefused("This invoice changed meanwhile; reload the page.", code="raced")
        outbox.record_on_commit(WIX_INVOICE)
        entry.message = "Queued to be tried again."
    invoice.refresh_from_db()
    return invoice


def support_token_refresh(*, business: Business, acting_user: User) -> None:
    """Ask Wix for a new access token for the business now (the old one is not reused)."""
    with audited(actor=acting_user, action="wix_token_refresh", target=business) as entry:
        if not business.is_active:
            raise ActionRefused("The app is uninstalled for this site.", code="uninstalled")
        current = (
            WixAccessToken.objects.filter(instance_id=business.instance_id)
            .values_list("access_token", flat=True)
            .first()
        )
        deadline = time.monotonic() + settings.WIX_CALL_DEADLINE
        try:
            wix_client.access_token(
                instance_id=business.instance_id,
                business_id=business.pk,
                deadline=deadline,
                stale=current or "",
            )
        except wix_client.WixError as exc:
            if exc.permanent:
                raise ActionRefused(f"Wix refused: {exc.message}", code="wix_refused") from None
            raise
        except wix_breaker.CircuitOpen as exc:
            raise ActionRefused(
                f"The Wix oauth circuit is open until {exc.retry_at:%H:%M:%S} UTC; "
                "reset it first if Wix is back.",
                code="circuit_open",
            ) from None
        entry.message = "A new access token was fetched."


def breaker_reset(*, api: str) -> bool:
    """Close the breaker of one Wix API; False when it was closed already."""
    return bool(
        CircuitBreaker.objects.filter(api=api)
        .filter(~Q(state=CircuitBreaker.State.CLOSED) | Q(consecutive_failures__gt=0))
        .update(
            state=CircuitBreaker.State.CLOSED,
            consecutive_failures=0,
            opened_at=None,
            retry_at=None,
            probe_started_at=None,
            updated_at=timezone.now(),
        )
    )


def support_breaker_reset(
    *, circuit: CircuitBreaker, acting_user: User, business: Business | None = None
) -> CircuitBreaker:
    """Close a Wix circuit breaker by hand (Wix is back and nobody should wait the cooldown).

    Circuits are shared by every business; ``business`` is the one whose support page the
    staff member acted from, so the action shows there too.
    """
    with audited(
        actor=acting_user, action="wix_breaker_reset", target=circuit, business=business
    ) as entry:
        entry.details["previous_state"] = circuit.state
        if not breaker_reset(api=circuit.api):
            raise ActionRefused("This circuit is already closed.", code="already_closed")
        entry.message = f"Circuit {circuit.api} closed (was {circuit.state})."
    circuit.refresh_from_db()
    return circuit
