"""The whole journey in a real browser: write, send, open as the client, tick, accept.

Playwright drives Debian's Chromium (/usr/bin/chromium; no browser download) against
pytest-django's live server. Sending only records a delivery row, so no SMTP is needed.
"""

import os

import pypdf
import pytest

from common import outbox
from proposals.models import Acceptance, Proposal, ProposalVersion
from proposals.pdf.kind import PROPOSAL_PDF
from tests.accounts.factories import MembershipFactory
from tests.proposals.factories import ClientFactory

# Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the
# test itself (fixtures, assertions) are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct horse battery"


@pytest.fixture
def browser_page():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        context.set_default_timeout(15_000)
        page = context.new_page()
        try:
            yield page
        finally:
            context.close()
            browser.close()


def write_draft(page, title: str, client: str, section: str, items: list[tuple]) -> None:
    """In the editor of a new proposal: its title, client and one section of line items, each
    (name, quantity or None, unit price, optional), a row added per item after the first."""
    page.get_by_role("link", name="New proposal").first.click()
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Client", exact=True).select_option(label=client)
    page.locator("#id_s-0-title").fill(section)
    for n, (name, quantity, unit_price, optional) in enumerate(items):
        if n:
            page.get_by_role("button", name="+ Add item").click()
        page.locator(f"#id_s-0-i-{n}-name").fill(name)
        if quantity is not None:
            page.locator(f"#id_s-0-i-{n}-quantity").fill(quantity)
        page.locator(f"#id_s-0-i-{n}-unit_price").fill(unit_price)
        if optional:
            page.locator(f"#id_s-0-i-{n}-optional").check()


def sign_and_accept(page, name: str) -> None:
    """On the client's page: type the name, agree, click "Accept proposal", see the thanks."""
    page.get_by_label("Your full name").fill(name)
    page.get_by_label("I have read and accept this proposal and its terms.").check()
    page.get_by_role("button", name="Accept proposal").click()
    page.get_by_role("heading", name="Accepted — thank you").wait_for()


def test_write_send_open_tick_accept(live_server, browser_page, media_in_tmp):
    membership = MembershipFactory()
    business, user = membership.business, membership.user
    ClientFactory(business=business, name="Ada Lovelace", email="ada@example.org")
    page = browser_page

    # Sign in.
    page.goto(f"{live_server.url}/accounts/login/?next=/app/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Proposals", exact=True).wait_for()

    # Write a proposal: two line items and one optional item (a third row added by JS).
    write_draft(
        page,
        "Garden makeover",
        "Ada Lovelace <ada@example.org>",
        "Work",
        [
            ("Design", None, "500", False),
            ("Planting", "2", "120.50", False),
            ("Pond", None, "900", True),
        ],
    )
    page.get_by_role("button", name="Create draft").click()
    page.get_by_text("created as a draft").wait_for()
    page.get_by_text("$741.00").first.wait_for()  # 500 + 2 × 120.50; the pond is optional

    # Send it.
    page.get_by_label("Message to your client (optional)").fill("Hello Ada!")
    page.get_by_role("button", name="Send proposal").click()
    page.get_by_text("Sent to ada@example.org").wait_for()

    proposal = Proposal.objects.get(business=business)
    token = ProposalVersion.objects.get(proposal=proposal).token

    # The client opens the link in a fresh browser context (not signed in).
    client_context = page.context.browser.new_context()
    client_page = client_context.new_page()
    client_page.goto(f"{live_server.url}/p/{token}")
    client_page.get_by_role("heading", name="Garden makeover").wait_for()
    total = client_page.locator('[data-sum="total"]')
    assert total.inner_text() == "$741.00"
    assert client_page.get_by_role("button", name="Update total").is_hidden()  # JS took over
    client_page.get_by_label("Pond").check()
    assert total.inner_text() == "$1,641.00"
    sign_and_accept(client_page, "Ada Lovelace")

    # The signed copy as a PDF: the first click opens "Preparing your PDF" (a worker renders
    # it: drained here), whose refresh then downloads it.
    client_page.get_by_role("link", name="Download your signed copy (PDF)").click()
    client_page.get_by_role("heading", name="Preparing your PDF…").wait_for()
    with client_page.expect_download() as download_info:
        assert outbox.drain(PROPOSAL_PDF)["rendered"] == 1
    download = download_info.value
    assert download.suggested_filename == "P-0001-accepted.pdf"
    with open(download.path(), "rb") as handle:
        data = handle.read()
    assert data.startswith(b"%PDF")
    text = "".join(p.extract_text() for p in pypdf.PdfReader(download.path()).pages)
    assert "Signed by Ada Lovelace" in text
    client_context.close()

    acceptance = Acceptance.objects.get(proposal=proposal)
    assert acceptance.signed_name == "Ada Lovelace"
    assert str(acceptance.total.normalize()) == "1641"
    assert len(acceptance.selected_item_keys) == 1

    # The business sees it accepted on its dashboard.
    page.goto(f"{live_server.url}/app/")
    row = page.get_by_role("row", name="Garden makeover")
    assert "Accepted" in row.inner_text()
