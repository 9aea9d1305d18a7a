"""Issue 13, point 1 in a real browser: the client ticks one optional item and unticks the
preselected one, accepts, and the business sees that accepted total on its list and its
proposal page, with the items the client chose.

Playwright drives Debian's Chromium (/usr/bin/chromium) against pytest-django's live server,
as tests/proposals/test_browser.py does.
"""

import os

import pytest

from proposals.models import Acceptance, ProposalVersion
from tests.accounts.factories import MembershipFactory
from tests.proposals.factories import ClientFactory, item, make_sent_proposal, sections
from tests.proposals.test_browser import browser_page, sign_and_accept  # noqa: F401 (fixture)
from tests.proposals.test_browser_dashboard import sign_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_business_sees_the_total_the_client_accepted(live_server, browser_page):  # noqa: F811
    membership = MembershipFactory()
    business, user = membership.business, membership.user
    client = ClientFactory(business=business, name="Ada Client")
    proposal, _ = make_sent_proposal(
        client=client,
        title="Garden",
        sections=sections(
            item("Design", "1", "1200.00"),
            item("Hosting", "1", "240.00", optional=True, selected=False),
            item("Support", "1", "100.00", optional=True, selected=True),
        ),
    )
    token = ProposalVersion.objects.get(proposal=proposal).token
    page = browser_page

    # The client, in a browser context of their own, takes Hosting and leaves Support out.
    client_context = page.context.browser.new_context()
    client_page = client_context.new_page()
    client_page.goto(f"{live_server.url}/p/{token}")
    client_page.get_by_role("heading", name="Garden").first.wait_for()
    client_page.get_by_label("Hosting").check()
    client_page.get_by_label("Support").uncheck()
    assert client_page.locator('[data-sum="total"]').inner_text() == "$1,440.00"
    sign_and_accept(client_page, "Ada Client")
    client_context.close()
    assert Acceptance.objects.get(proposal=proposal).total == 1440

    # The list shows what was accepted, not the working copy's $1,300.00.
    sign_in(page, live_server, user)
    row = page.get_by_role("row", name="Garden")
    assert "Accepted" in row.inner_text()
    assert "$1,440.00" in row.inner_text() and "$1,300.00" not in row.inner_text()

    # The proposal page's content card is the accepted version with the client's choice.
    row.get_by_role("link", name="Garden").click()
    content = page.locator("section", has=page.get_by_role("heading", name="Content"))
    content.wait_for()
    assert "as accepted, version 1" in content.inner_text()
    hosting = content.get_by_role("row", name="Hosting")
    support = content.get_by_role("row", name="Support")
    assert "chosen by the client" in hosting.inner_text()
    assert "not chosen" in support.inner_text()
    totals = content.locator("dl.totals")
    assert "Accepted total" in totals.inner_text() and "$1,440.00" in totals.inner_text()
