"""The business support page in a real browser (issue 13, point 12): at 1280 px nothing runs
past the page or its cards, however long the addresses, ids and errors; a long value wraps,
or is cut short with the whole of it in the cell's title.

Playwright drives Debian's Chromium (/usr/bin/chromium) against pytest-django's live server,
as tests/proposals/test_browser.py does; the support user's session is set as a cookie.
"""

import os

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import StaffAction
from integrations.models import WixInvoice
from proposals.models import Delivery
from tests.accounts.factories import BusinessFactory, MembershipFactory, UserFactory
from tests.proposals.factories import ClientFactory, make_sent_proposal
from tests.proposals.test_browser import browser_page  # noqa: F401 (fixture)
from tests.support.factories import (
    BreakerFactory,
    CallFactory,
    DeliveryFactory,
    ReceiptFactory,
    invoiced_payments,
    support_staff,
)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Long and without a place to break: what an address, a URL or a stack trace can be.
LONG_WORD = "x" * 150
LONG_ERROR = "SMTP 550 5.1.1 " + "recipient-rejected-" * 12 + " after " + "y" * 120
LONG_EMAIL = f"{LONG_WORD}@{'sub.' * 10}example.org"


def _long_business():
    business = BusinessFactory(
        site_url=f"https://{LONG_WORD}.example.com/{'path/' * 20}",
        owner_email=LONG_EMAIL,
        plan_product_id="p" * 100,
    )
    MembershipFactory(business=business, user=UserFactory(email=f"member.{LONG_EMAIL}"))
    client = ClientFactory(business=business, email=f"client.{LONG_EMAIL}"[:254])
    proposal, _ = make_sent_proposal(business=business, client=client, title="T" * 200)
    DeliveryFactory(
        business=business, proposal=proposal, recipient=f"to.{LONG_EMAIL}", last_error=LONG_ERROR
    )
    stuck = DeliveryFactory(business=business, state=Delivery.State.PENDING, last_error=LONG_ERROR)
    Delivery.objects.filter(pk=stuck.pk).update(updated_at="2000-01-01T00:00:00Z")
    ReceiptFactory(business=business, event_type="AppInstalled", last_error=LONG_ERROR)
    ReceiptFactory(business=business, event_type="E" * 64, last_error=LONG_ERROR)
    CallFactory(business=business, endpoint="/contacts/v4/" + LONG_WORD, error=LONG_ERROR)
    BreakerFactory(api="contacts", last_error=LONG_ERROR)
    _, balance = invoiced_payments(business)
    WixInvoice.objects.filter(pk=balance.pk).update(state="failed", last_error=LONG_ERROR)
    StaffAction.objects.create(
        actor_email=LONG_EMAIL, action="retry_delivery", business=business,
        target_repr="R" * 200, outcome="ok", message=LONG_ERROR,
    )  # fmt: skip
    return business


def _signed_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": live_server.url}])


# Per card: how far its content runs past it; per cut-short cell: its text and titles; the
# headings, short cells and buttons broken inside a word (more lines than words).
MEASURE = """() => {
  const lines = el => {
    const tops = new Set();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const range = document.createRange();
      range.selectNodeContents(walker.currentNode);
      for (const rect of range.getClientRects()) if (rect.width) tops.add(Math.round(rect.top));
    }
    return tops.size;
  };
  const cards = [...document.querySelectorAll('.support-card')];
  const cells = cards.flatMap(card => [...card.querySelectorAll('td, th')]);
  return {
    page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    over: cards.filter(card => card.scrollWidth > card.clientWidth)
      .map(card => card.querySelector('h2').textContent),
    cut: cells.concat([...document.querySelectorAll('.support-counts span')])
      .filter(cell => cell.textContent.includes('…'))
      .map(cell => ({text: cell.textContent.trim(),
                     titles: [...cell.querySelectorAll('[title]')].map(el => el.title)})),
    broken: cells.filter(cell => !cell.closest('.support-long'))
      .concat(cards.flatMap(card => [...card.querySelectorAll('button')]))
      .filter(el => el.textContent.trim()
        && lines(el) > el.textContent.trim().split(/\\s+/).length)
      .map(el => el.textContent.trim()),
  };
}"""


def test_long_values_stay_inside_the_page_and_their_cards(live_server, browser_page):  # noqa: F811
    business = _long_business()
    page = browser_page
    page.set_viewport_size({"width": 1280, "height": 900})
    _signed_in(page, live_server, support_staff())
    page.goto(f"{live_server.url}/admin/accounts/business/{business.pk}/support/")
    page.get_by_role("heading", name="Failed deliveries (7 d)").wait_for()

    page.get_by_role("heading", name="Wix invoices (the newest 20 payments)").wait_for()
    measured = page.evaluate(MEASURE)
    if os.environ.get("SUPPORT_PAGE_SCREENSHOT"):
        page.screenshot(path=os.environ["SUPPORT_PAGE_SCREENSHOT"], full_page=True)
    assert measured["page"] <= 0, "the page scrolls sideways"
    assert measured["over"] == [], "these cards scroll sideways"
    assert measured["broken"] == [], "headings, dates, counts and buttons break inside a word"
    assert measured["cut"], "the long values were expected to be cut short somewhere"
    for cell in measured["cut"]:
        # Whatever is cut short keeps its whole value a hover away.
        shown = cell["text"].rstrip("…")
        assert any(shown[-20:] in title for title in cell["titles"]), cell
    assert page.get_by_title(LONG_ERROR).count() >= 5
