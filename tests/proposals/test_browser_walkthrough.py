"""README's walk-through ("A first proposal: create, send, accept, see the accepted total"),
step by step in a real browser, with its words: the demo login `manage.py seed_demo` makes, the
buttons and pages it names, the email with the client's link (a loopback SMTP server stands in
for `make run`'s sink), and the accepted total the dashboard shows. Change the two together.

Playwright drives Debian's Chromium (/usr/bin/chromium) against pytest-django's live server,
as tests/proposals/test_browser.py does.
"""

import os
import re
from io import StringIO

import pytest
from django.core.management import call_command

from common import outbox
from tests.proposals.test_browser import browser_page, sign_and_accept  # noqa: F401 (fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENT = "Ada Lovelace <ada@example.org>"


def test_the_readme_walk_through(live_server, browser_page, smtp_server, settings):  # noqa: F811
    call_command("seed_demo", stdout=StringIO())
    settings.SITE_URL = live_server.url  # the email's link opens this server
    page = browser_page

    # 1. Sign in: "Open the dashboard", the demo login; an empty list.
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Open the dashboard").click()
    page.get_by_label("Email").fill("demo@example.com")
    page.get_by_label("Password").fill("demo-proposals-2026")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Proposals", exact=True).wait_for()
    page.get_by_role("heading", name="No proposals yet").wait_for()

    # 2. Create: a client, then the new proposal with it chosen, one item and an optional one.
    page.get_by_role("link", name="Add a client").click()
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_role("button", name="Add client").click()
    page.get_by_role("heading", name="New proposal").wait_for()
    client = page.get_by_label("Client", exact=True)
    assert client.locator("option:checked").inner_text() == CLIENT
    page.get_by_label("Title", exact=True).fill("Garden makeover")
    page.get_by_label("Item name").fill("Design")
    page.get_by_label("Unit price").fill("500")
    page.get_by_role("button", name="+ Add item").click()
    page.get_by_label("Item name").nth(1).fill("Pond")
    page.get_by_label("Unit price").nth(1).fill("900")
    page.get_by_label("Optional — the client chooses").nth(1).check()
    estimate = page.get_by_role("region", name="Estimated total")
    assert estimate.locator('[data-estimate-sum="total"]').inner_text() == "$500.00"
    page.get_by_role("button", name="Create draft").click()
    page.get_by_text("P-0001 created as a draft.").wait_for()

    # 3. Send: the message, "Send proposal"; the worker sends the email with the client's link.
    page.get_by_label("Message to your client (optional)").fill("Here is the garden plan.")
    page.get_by_role("button", name="Send proposal").click()
    page.get_by_text("Sent to ada@example.org. The email goes out in a moment.").wait_for()
    assert outbox.drain("delivery")["sent"] == 1
    (email,) = smtp_server.received
    link = re.search(rf"{re.escape(live_server.url)}/p/[\w-]+", email.text).group(0)
    page.reload()
    emails = page.get_by_role("region", name="Emails")
    assert (
        emails.get_by_role("listitem").inner_text() == "Proposal to client → ada@example.org: Sent"
    )
    assert page.get_by_role("link", name="Client's link").get_attribute("href") in link

    # 4. Accept, as the client. Signed in as the business, the page is read-only...
    page.goto(link)
    page.get_by_text("only your client can accept or decline it").wait_for()
    assert page.get_by_role("button", name="Accept proposal").count() == 0
    # ... so the client opens it in a browser of their own.
    client_context = page.context.browser.new_context()
    client_page = client_context.new_page()
    client_page.goto(link)
    total = client_page.locator('[data-sum="total"]')
    assert total.inner_text() == "$500.00"
    client_page.get_by_label("Pond").check()
    assert total.inner_text() == "$1,400.00"
    sign_and_accept(client_page, "Ada Lovelace")
    assert "for a total of $1,400.00" in client_page.locator("main").inner_text()
    client_page.get_by_role("heading", name="What you accepted: Garden makeover").wait_for()
    client_context.close()
    outbox.drain("delivery")  # the owner's notifications and the client's copy

    # 5. See the accepted total: the list, its pipeline, and the proposal's page.
    page.goto(f"{live_server.url}/app/")
    row = page.get_by_role("row", name="Garden makeover")
    assert "Accepted" in row.inner_text() and "$1,400.00" in row.inner_text()
    pipeline = page.get_by_label("Pipeline")
    assert re.search(r"Accepted in \w+ \d{4}\s+1 · \$1,400\.00", pipeline.inner_text())
    row.get_by_role("link", name="Garden makeover").click()
    accepted = page.get_by_role("region", name="Accepted", exact=True).inner_text()
    assert "Ada Lovelace (ada@example.org)" in accepted
    assert re.search(r"Accepted total\s+\$1,400\.00", accepted)
    content = page.get_by_role("region", name="Content")
    assert "as accepted, version 1" in content.inner_text()
    assert "Optional, chosen by the client" in content.get_by_role("row", name="Pond").inner_text()
    timeline = page.get_by_role("region", name="Timeline")
    for entry in (
        "The client opened version 1 for the first time.",
        "Ada Lovelace accepted version 1 for $1,400.00.",
        "The proposal email went out to ada@example.org.",
        "The client's copy of the acceptance went out to ada@example.org.",
    ):
        timeline.get_by_text(entry).wait_for()
