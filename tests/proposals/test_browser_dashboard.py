"""The proposal list in a real browser: the client box suggests as you type, keyset pages.

Playwright drives Debian's Chromium (/usr/bin/chromium; no browser download) against
pytest-django's live server, as tests/proposals/test_browser.py does.
"""

import os

import pytest

from proposals.models import Proposal
from tests.accounts.factories import MembershipFactory
from tests.proposals.factories import ClientFactory, make_proposal
from tests.proposals.test_browser import PASSWORD, browser_page  # noqa: F401 (fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/accounts/login/?next=/app/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Proposals", exact=True).wait_for()
    # The heading is there once the HTML is; a layout measured before the stylesheet has
    # loaded is the unstyled page's (the nav bar test once saw it twice the window's width).
    page.wait_for_load_state("load")


def test_client_box_suggests_and_filters_with_the_keyboard(live_server, browser_page):  # noqa: F811
    membership = MembershipFactory()
    business, user = membership.business, membership.user
    ada = ClientFactory(business=business, name="Ada Lovelace", email="ada@example.org")
    adam = ClientFactory(business=business, name="Adam Smith", email="adam@example.org")
    ClientFactory(business=business, name="Grace Hopper", email="grace@example.org")
    make_proposal(business=business, client=ada, title="Engine plans")
    make_proposal(business=business, client=adam, title="Wealth of nations")
    page = browser_page
    sign_in(page, live_server, user)

    box = page.get_by_role("combobox", name="Client")
    suggestions = page.locator("#id_client_name-listbox")
    box.fill("ad")
    options = suggestions.get_by_role("option")
    options.first.wait_for()
    assert options.count() == 2
    assert box.get_attribute("aria-expanded") == "true"
    box.press("ArrowDown")
    box.press("ArrowDown")
    assert (
        page.locator('[role="option"][aria-selected="true"]').inner_text().startswith("Adam Smith")
    )
    box.press("Enter")  # picks the option (the list closes, nothing is submitted yet)
    assert box.input_value() == "Adam Smith"
    assert box.get_attribute("aria-expanded") == "false"
    assert page.locator("[data-client-id]").input_value() == str(adam.pk)
    box.press("Enter")  # submits the filters
    page.wait_for_url(f"**client={adam.pk}**")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 1 and "Wealth of nations" in rows.first.inner_text()

    # Escape closes the suggestions, then clears the box; a cleared box filters nothing.
    box = page.get_by_role("combobox", name="Client")
    suggestions = page.locator("#id_client_name-listbox")
    box.fill("gra")
    suggestions.get_by_role("option").first.wait_for()
    box.press("Escape")
    assert suggestions.is_hidden()
    box.press("Escape")
    assert box.input_value() == ""
    box.press("Enter")
    page.wait_for_load_state()
    assert page.locator("table.list tbody tr").count() == 2


def test_older_and_newer_pages(live_server, browser_page):  # noqa: F811
    membership = MembershipFactory()
    business, user = membership.business, membership.user
    client = ClientFactory(business=business)
    for n in range(27):
        make_proposal(business=business, client=client, title=f"Job {n:02d}")
    oldest = Proposal.objects.get(business=business, title="Job 00")
    page = browser_page
    sign_in(page, live_server, user)

    assert page.locator("table.list tbody tr").count() == 25
    assert page.get_by_text("Showing 25 proposals; there are older ones").is_visible()
    page.get_by_role("link", name="Older →").click()
    page.get_by_role("link", name="← Newer").wait_for()
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 2 and oldest.display_number in rows.last.inner_text()
    assert page.get_by_role("link", name="Older →").count() == 0
    page.get_by_role("link", name="← Newer").click()
    page.get_by_role("link", name="Older →").wait_for()
    assert page.locator("table.list tbody tr").first.inner_text().startswith("P-0027")


# Where the nav bar runs past the window, and whether each of its controls is inside it.
NAV_BAR = """() => {
  const width = document.documentElement.clientWidth;
  const inside = el => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.left >= 0 && box.right <= width;
  };
  const bar = document.querySelector('.topbar-inner');
  return {
    page: document.documentElement.scrollWidth - width,
    bar: bar.scrollWidth - bar.clientWidth,
    outside: [...bar.querySelectorAll('a, button')].filter(el => !inside(el))
      .map(el => el.textContent.trim()),
    height: Math.round(bar.getBoundingClientRect().height),
  };
}"""


@pytest.mark.parametrize("width", [375, 1280])
def test_a_very_long_email_keeps_the_nav_bar_in_the_window_and_usable(
    live_server,
    browser_page,  # noqa: F811
    width,
):
    email = f"{'very.long.name.' * 8}{'x' * 40}@{'department.' * 4}example.org"
    membership = MembershipFactory(user__email=email, user__full_name="")
    page = browser_page
    page.set_viewport_size({"width": width, "height": 800})
    sign_in(page, live_server, membership.user)

    measured = page.evaluate(NAV_BAR)
    assert measured["page"] <= 0, measured
    assert measured["bar"] <= 0, measured
    assert measured["outside"] == [], measured
    # The address is shown cut short, whole in its title, and never stacks the bar up.
    name = page.locator(".signout > .muted")
    assert name.get_attribute("title") == email and name.inner_text() == email
    assert measured["height"] < 200, measured

    page.locator(".topbar nav").get_by_role("link", name="Clients").click()
    page.get_by_role("heading", name="Clients", exact=True).wait_for()
    assert page.evaluate(NAV_BAR)["outside"] == []
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Password").wait_for()
