"""An accepted proposal's payments and their invoices on the business's page, in a real browser,
at desktop width and on a 375 px phone (no sideways scrolling of the page)."""

import os
from decimal import Decimal

import pytest

from integrations.models import WixInvoice
from proposals import services
from proposals.models import Activity
from tests.accounts.factories import MembershipFactory
from tests.proposals.factories import accept, item, make_proposal, sections
from tests.proposals.test_browser import browser_page  # noqa: F401
from tests.proposals.test_browser_dashboard import sign_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_payments_invoices_read_on_the_page_and_it_fits_a_phone(live_server, browser_page):  # noqa: F811
    membership = MembershipFactory()
    business, user = membership.business, membership.user
    proposal = make_proposal(
        business=business,
        sections=sections(item("Design", "1", "1000.00")),
        payment_schedule=[
            {"kind": "deposit", "amount_type": "percent", "value": "25"},
            {
                "kind": "milestone",
                "label": "On delivery",
                "amount_type": "balance",
                "due": "days_after",
                "due_days": 30,
            },
        ],
    )
    version = services.proposal_send(proposal=proposal, acting_user=None)
    acceptance = accept(version)
    rows = list(WixInvoice.objects.filter(acceptance=acceptance).order_by("position"))
    WixInvoice.objects.filter(pk=rows[0].pk).update(
        step="watch", number="INV-0007", payment="partially_paid", paid_amount=Decimal("100")
    )
    WixInvoice.objects.filter(pk=rows[1].pk).update(
        state="failed",
        last_error="Wix Invoices is not yet available on this site (Wix is enabling it)",
    )
    from integrations.invoice_steps import _timeline

    r0 = WixInvoice.objects.get(pk=rows[0].pk)
    _timeline(r0, Activity.Kind.INVOICE_SENT)
    _timeline(r0, Activity.Kind.INVOICE_PAYMENT)
    _timeline(
        WixInvoice.objects.get(pk=rows[1].pk),
        Activity.Kind.INVOICE_FAILED,
        reason="Wix Invoices is not yet available on this site",
    )
    page = browser_page
    sign_in(page, live_server, user)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/app/proposals/{proposal.pk}/")
    schedule = page.locator("section.payment-schedule")
    assert schedule.get_by_role("columnheader", name="Invoice").is_visible()
    cells = schedule.locator("tbody tr td:last-child").all_inner_texts()
    assert cells[0] == "INV-0007 · Sent · partially paid"
    assert cells[1].startswith("Failed: Wix Invoices is not yet available on this site")
    timeline = page.locator(".tl-sentence").all_inner_texts()
    assert any("could not be made in Wix" in line for line in timeline)
    assert any(
        line.startswith("Invoice INV-0007 for Deposit is partially paid") for line in timeline
    )
    page.set_viewport_size({"width": 375, "height": 800})
    page.reload()
    # The tables scroll inside their cards; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
