"""The client's page in a real browser: the business sees it read-only (issue 13 pt 4), and a
refused answer leaves an address that reloads (pt 5).

Playwright drives Debian's Chromium (/usr/bin/chromium) against pytest-django's live server.
"""

import os

import pytest

from proposals.models import Acceptance, Proposal
from tests.accounts.factories import MembershipFactory
from tests.proposals.factories import make_sent_proposal
from tests.proposals.test_browser import browser_page  # noqa: F401 (fixture)
from tests.proposals.test_browser_dashboard import sign_in

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_owner_opening_the_clients_link_sees_it_read_only(live_server, browser_page):  # noqa: F811
    membership = MembershipFactory()
    proposal, version = make_sent_proposal(business=membership.business, title="Roof repair")
    page = browser_page
    sign_in(page, live_server, membership.user)

    page.goto(f"{live_server.url}/app/proposals/{proposal.pk}/")
    page.get_by_role("link", name="Client's link").click()
    page.get_by_role("heading", name="Roof repair").wait_for()
    banner = page.get_by_role("status").filter(has_text="You are signed in as a member of")
    banner.wait_for()
    assert "only your client can accept or decline it" in banner.inner_text()
    assert page.get_by_role("button", name="Accept proposal").count() == 0
    assert page.get_by_text("Decline this proposal").count() == 0
    assert page.get_by_label("Your full name").count() == 0
    # Ticking an option still shows what it would cost; it answers nothing.
    page.get_by_label("Hosting (12 months)").check()
    assert "2,586.00" in page.locator('[data-sum="total"]').inner_text()

    banner.get_by_role("link", name="Back to").click()
    page.get_by_role("heading", name="Roof repair").first.wait_for()
    assert page.url.endswith(f"/app/proposals/{proposal.pk}/")
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT  # the owner's visit is not a client's view
    assert not Acceptance.objects.exists()


def test_refused_accept_reloads_as_the_proposal_page(live_server, browser_page):  # noqa: F811
    _, version = make_sent_proposal(title="Garden makeover")
    page = browser_page
    page_url = f"{live_server.url}/p/{version.token}"
    page.goto(page_url)
    page.get_by_role("heading", name="Garden makeover").wait_for()

    # Accept without a name or the box ticked: the form comes back with its errors …
    page.get_by_role("button", name="Accept proposal").click()
    page.get_by_text("Please fix the problems below to accept.").wait_for()
    # … and the address bar shows the page, not /accept.
    assert page.url == page_url
    response = page.reload()
    assert response.status == 200
    assert response.request.method == "GET"
    page.get_by_role("button", name="Accept proposal").wait_for()
    assert page.get_by_text("Please fix the problems below").count() == 0

    # Opening the answer address itself (a bookmark, a pasted link) shows the page too.
    response = page.goto(f"{page_url}/accept")
    assert response.status == 200 and page.url == page_url
    page.get_by_role("heading", name="Garden makeover").wait_for()

    # Once answered, a refused second answer reloads as the answered page.
    page.get_by_label("Your full name").fill("Ada Lovelace")
    page.get_by_label("I have read and accept this proposal and its terms.").check()
    page.get_by_role("button", name="Accept proposal").click()
    page.get_by_role("heading", name="Accepted — thank you").wait_for()
    assert page.url == page_url
    page.reload()
    page.get_by_role("heading", name="What you accepted: Garden makeover").wait_for()
    assert Acceptance.objects.count() == 1
