"""What the invoice tests share: the kind, a schedule recorded for an acceptance, the client
made a contact of the stand-in site, and reads of the rows and of the stand-in."""

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from integrations.invoices import ScheduledPayment, invoices_schedule
from integrations.models import WixInvoice
from integrations.wix.client import WixClient
from tests.integrations.standin_site import Site

KIND = "wix_invoice"
State, Step, Payment = WixInvoice.State, WixInvoice.Step, WixInvoice.Payment
CREATE = ["/invoices/v4/invoices$"]


def make_contact(client) -> None:
    """The client made a contact of its business's Wix site (what the contact sync does)."""
    contact = WixClient.for_business(client.business).create_contact(
        {"emails": {"items": [{"email": client.email}]}}
    )
    client.wix_contact_id = contact["id"]
    client.save(update_fields=["wix_contact_id"])


def schedule(acceptance, *later_days: int) -> list[WixInvoice]:
    """A deposit due now, then a payment due ``n`` days later for each of ``later_days``."""
    now = timezone.now()
    payments = [ScheduledPayment(1, "Deposit", Decimal("250.50"), now)]
    payments += [
        ScheduledPayment(n, f"Milestone {n}", Decimal("100"), now + timedelta(days=days))
        for n, days in enumerate(later_days, start=2)
    ]
    return invoices_schedule(acceptance=acceptance, currency="USD", payments=payments)


def site_of(wix, acceptance) -> Site:
    return Site(wix, instance_id=acceptance.business.instance_id)


def due_now(*rows) -> None:
    WixInvoice.objects.filter(pk__in=[r.pk for r in rows]).update(next_attempt_at=timezone.now())


def fresh(row) -> WixInvoice:
    return WixInvoice.objects.get(pk=row.pk)


def invoice_calls(wix) -> int:
    """Requests that reached the stand-in's Invoices endpoints (answered or refused)."""
    return sum(n for key, n in wix.counts().items() if "/invoices/v4/" in key)
