"""After the client says yes, in a real browser (issue 15): the business writes a proposal with a
deposit and a balance in the editor and sends it; the client ticks an option, signs and
accepts; the deposit invoice is made in the business's Wix site (the stand-in, asked through
its own Invoices query); the signed PDF downloads, the same bytes every time, for both.

Playwright drives Debian's Chromium (/usr/bin/chromium) against pytest-django's live server;
the outbox drains a worker would run are run here, in order.
"""

import hashlib
import os
from decimal import Decimal

import pytest

from common import outbox
from integrations.models import WixInvoice
from proposals.models import Acceptance, Proposal, ProposalPdf
from proposals.pdf.kind import PROPOSAL_PDF
from tests.accounts.factories import MembershipFactory
from tests.integrations.conftest import _standin_server, wix  # noqa: F401 (fixtures)
from tests.integrations.standin_site import Site
from tests.proposals.factories import ClientFactory
from tests.proposals.test_browser import browser_page, write_draft  # noqa: F401 (fixture)
from tests.proposals.test_browser_dashboard import sign_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ACCEPT_BOX = "I have read and accept this proposal and its terms."


def downloaded(page, link_name: str) -> bytes:
    """The bytes of the file the link named ``link_name`` downloads when clicked."""
    with page.expect_download() as download_info:
        page.get_by_role("link", name=link_name).click()
    with open(download_info.value.path(), "rb") as handle:
        return handle.read()


def test_deposit_accepted_invoiced_in_wix_and_signed_pdf_downloads(
    live_server,
    browser_page,  # noqa: F811
    wix,  # noqa: F811
    media_in_tmp,
):
    membership = MembershipFactory()
    business, user = membership.business, membership.user
    ClientFactory(business=business, name="Ada Lovelace", email="ada@example.org")
    page = browser_page
    sign_in(page, live_server, user)

    # 1. The business writes the proposal and its schedule in the editor, and sends it.
    write_draft(
        page,
        "Garden makeover",
        "Ada Lovelace <ada@example.org>",
        "Work",
        [("Design", None, "741", False), ("Pond", None, "900", True)],
    )
    deposit_row = page.get_by_role("group", name="Deposit")
    deposit_row.get_by_role("combobox", name="Deposit").select_option(
        label="Percentage of the total"
    )
    deposit_row.get_by_label("Percentage or amount").fill("25")
    payment_row = page.get_by_role("group", name="Payment 1")
    payment_row.get_by_label("Amount", exact=True).select_option(label="The balance (what is left)")
    payment_row.get_by_label("Due", exact=True).select_option(label="Days after acceptance")
    payment_row.get_by_label("Days after acceptance", exact=True).fill("30")
    payment_row.get_by_label("Label (optional)").fill("On handover")
    page.get_by_role("button", name="Create draft").click()
    page.get_by_text("created as a draft").wait_for()
    page.get_by_role("button", name="Send proposal").click()
    page.get_by_text("Sent to ada@example.org").wait_for()
    proposal = Proposal.objects.get(business=business)
    assert [p["amount_type"] for p in proposal.payment_schedule] == ["percent", "balance"]
    client_link = page.get_by_role("link", name="Client's link").get_attribute("href")

    # 2. The client opens the link (not signed in), sees the schedule follow the option
    #    they tick, signs and accepts.
    client_context = page.context.browser.new_context()
    client_context.set_default_timeout(15_000)
    client_page = client_context.new_page()
    client_page.goto(live_server.url + client_link)
    client_page.get_by_role("heading", name="Payment schedule").wait_for()
    amounts = client_page.locator("[data-payment-amount]")
    assert amounts.all_inner_texts() == ["$185.25", "$555.75"]  # 25% of 741, the balance
    client_page.get_by_label("Pond").check()
    assert amounts.all_inner_texts() == ["$410.25", "$1,230.75"]  # 25% of 1,641
    client_page.get_by_label("Your full name").fill("Ada Lovelace")
    client_page.get_by_label(ACCEPT_BOX).check()
    client_page.get_by_role("button", name="Accept proposal").click()
    client_page.get_by_role("heading", name="Accepted — thank you").wait_for()
    acceptance = Acceptance.objects.get(proposal=proposal)
    assert acceptance.total == Decimal("1641.00")

    # 3. The workers run: the client becomes a contact of the site, then the deposit is
    #    invoiced (created, published, sent); the balance waits for its day.
    assert outbox.drain("contact_sync").get("synced") == 1
    assert outbox.drain("wix_invoice").get("sent") == 1
    deposit, balance = WixInvoice.objects.filter(acceptance=acceptance).order_by("position")
    assert deposit.amount == Decimal("410.25") and balance.amount == Decimal("1230.75")
    assert deposit.wix_invoice_id and deposit.sent_at is not None
    assert balance.sent_at is None
    # What the business's Wix site holds, asked as the product asks Wix.
    site = Site(wix, instance_id=business.instance_id)
    answer = site.post("/invoices/v4/invoices/query", {"query": {}})
    assert answer.status_code == 200
    held = {invoice["id"]: invoice for invoice in answer.json()["invoices"]}
    assert deposit.wix_invoice_id in held
    in_wix = held[deposit.wix_invoice_id]
    assert in_wix["totals"]["total"] == "410.25"
    assert in_wix["status"] == "PUBLISHED" and in_wix["currency"] == "USD"
    assert [s["invoiceId"] for s in site.sends()] == [deposit.wix_invoice_id]

    # 4. The signed copy: the first click shows "Preparing your PDF…", whose refresh
    #    downloads it once a worker has rendered it; a second download is the same bytes.
    client_page.get_by_role("link", name="Download your signed copy (PDF)").click()
    client_page.get_by_role("heading", name="Preparing your PDF…").wait_for()
    with client_page.expect_download() as download_info:
        assert outbox.drain(PROPOSAL_PDF)["rendered"] == 1
    assert download_info.value.suggested_filename == "P-0001-accepted.pdf"
    with open(download_info.value.path(), "rb") as handle:
        first = handle.read()
    stored = ProposalPdf.objects.get(proposal=proposal, kind=ProposalPdf.Kind.ACCEPTED)
    assert first.startswith(b"%PDF")
    assert hashlib.sha256(first).hexdigest() == stored.sha256
    client_page.goto(live_server.url + client_link)
    assert downloaded(client_page, "Download your signed copy (PDF)") == first
    client_context.close()

    # The business sees the deposit invoiced on its page and downloads the same signed PDF.
    page.goto(f"{live_server.url}/app/proposals/{proposal.pk}/")
    cells = page.locator("section.payment-schedule tbody tr td:last-child").all_inner_texts()
    assert cells[0].startswith(f"{deposit.number} · Sent")
    assert downloaded(page, "Download the signed PDF") == first
