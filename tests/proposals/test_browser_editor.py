"""The proposal editor in a real browser, in en-US and de-DE (issue 13, points 2, 3 and 10).

Typed prices reach the server as typed (a text input with inputmode=decimal, never a number
input that drops the comma), the estimate follows the server's rules and formatting, and the
introduction is written in the vendored Trix editor and saved sanitised.
"""

import os
from decimal import Decimal

import pytest

from common.money import LineInput, compute_totals, format_money
from proposals import selectors
from proposals.models import Proposal
from tests.accounts.factories import MembershipFactory
from tests.proposals.factories import ClientFactory, make_sent_proposal
from tests.proposals.test_browser import CHROMIUM_ARGS, PASSWORD

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# What each business types: 3 × 33.335 less 10 % plus 19 % tax, and 1.5 × 1000.
TYPED = {
    "en-US": {"price": "33.335", "qty": "1,000", "small": "1.5", "wrong": "1,5"},
    "de-DE": {"price": "33,335", "qty": "1.000", "small": "1,5", "wrong": "1.5"},
}


def expected_total(locale: str) -> str:
    lines = [
        LineInput(
            quantity=Decimal("3"),
            unit_price=Decimal("33.335"),
            discount_percent=Decimal("10"),
            tax_rate=Decimal("19"),
        ),
        LineInput(quantity=Decimal("1000"), unit_price=Decimal("1.5")),
    ]
    return format_money(compute_totals(lines, "EUR").total, "EUR", locale)


@pytest.fixture
def browser_factory():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        contexts = []

        def page_in(locale: str):
            context = browser.new_context(locale=locale, viewport={"width": 1200, "height": 900})
            context.set_default_timeout(15_000)
            contexts.append(context)
            return context.new_page()

        try:
            yield page_in
        finally:
            for context in contexts:
                context.close()
            browser.close()


@pytest.mark.parametrize(
    ("business_locale", "browser_locale"),
    [("en-US", "en-US"), ("de-DE", "de-DE"), ("de-DE", "en-US")],
)
def test_prices_as_the_business_writes_them_with_a_live_estimate(
    live_server, browser_factory, business_locale, browser_locale
):
    membership = MembershipFactory(business__locale=business_locale, business__currency="EUR")
    business, user = membership.business, membership.user
    ClientFactory(business=business, name="Ada Lovelace", email="ada@example.org")
    typed = TYPED[business_locale]
    page = browser_factory(browser_locale)
    page.goto(f"{live_server.url}/accounts/login/?next=/app/proposals/new")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="New proposal").wait_for()

    price = page.locator("#id_s-0-i-0-unit_price")
    assert price.get_attribute("type") == "text"
    assert price.get_attribute("inputmode") == "decimal"
    page.get_by_label("Title", exact=True).fill("Garden")
    page.get_by_label("Client", exact=True).select_option(label="Ada Lovelace <ada@example.org>")
    page.locator("#id_s-0-i-0-name").fill("Design")
    page.locator("#id_s-0-i-0-quantity").fill("3")
    price.fill(typed["price"])
    page.locator("#id_s-0-i-0-discount_percent").fill("10")
    page.locator("#id_s-0-i-0-tax_rate").fill("19")
    page.get_by_role("button", name="+ Add item").click()
    page.locator("#id_s-0-i-1-name").fill("Bulbs")
    page.locator("#id_s-0-i-1-quantity").fill(typed["qty"])
    page.locator("#id_s-0-i-1-unit_price").fill(typed["wrong"])

    # A number the server would refuse is not counted, not guessed.
    estimate = page.locator('[data-estimate-sum="total"]')
    page.locator("[data-estimate-problem]").wait_for(state="visible")
    page.locator("#id_s-0-i-1-unit_price").fill(typed["small"])
    page.locator("[data-estimate-problem]").wait_for(state="hidden")
    assert estimate.inner_text() == expected_total(business_locale)

    # The introduction in the rich-text editor: bold survives, the server sanitises.
    intro = page.locator("trix-editor#id_intro")
    assert page.locator(".trix-button--icon-attach").first.is_hidden()  # nh3 keeps no files
    intro.click()
    page.keyboard.type("Dear Ada, ")
    page.locator("trix-toolbar").first.get_by_role("button", name="Bold").click()
    page.keyboard.type("welcome")

    page.get_by_role("button", name="Create draft").click()
    page.get_by_text("created as a draft").wait_for()
    proposal = Proposal.objects.get(business=business)
    items = [i for s in selectors.working_copy_sections(proposal) for i in s["items"]]
    assert [Decimal(str(i["unit_price"])) for i in items] == [Decimal("33.335"), Decimal("1.5")]
    assert Decimal(str(items[1]["quantity"])) == Decimal("1000")
    assert "<strong>welcome</strong>" in proposal.intro and "Dear Ada" in proposal.intro
    page.get_by_text(expected_total(business_locale)).first.wait_for()  # the server agrees


@pytest.mark.parametrize("browser_locale", ["en-US", "de-DE"])
def test_a_comma_the_business_does_not_write_is_refused_not_saved_as_fifteen(
    live_server, browser_factory, browser_locale
):
    membership = MembershipFactory(business__locale="en-US", business__currency="USD")
    business, user = membership.business, membership.user
    ClientFactory(business=business, name="Ada Lovelace", email="ada@example.org")
    page = browser_factory(browser_locale)
    page.goto(f"{live_server.url}/accounts/login/?next=/app/proposals/new")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Title", exact=True).fill("Garden")
    page.get_by_label("Client", exact=True).select_option(label="Ada Lovelace <ada@example.org>")
    page.locator("#id_s-0-i-0-name").fill("Design")
    page.locator("#id_s-0-i-0-unit_price").fill("1,5")
    page.get_by_role("button", name="Create draft").click()
    page.locator("#id_s-0-i-0-unit_price-error").wait_for()
    assert "English (United States)" in page.locator("#id_s-0-i-0-unit_price-error").inner_text()
    assert page.locator("#id_s-0-i-0-unit_price").input_value() == "1,5"  # shown as typed
    assert not Proposal.objects.filter(business=business).exists()


def test_client_page_live_total_matches_the_server_in_the_business_locale(
    live_server, browser_factory
):
    proposal, version = make_sent_proposal(currency="EUR")
    business = proposal.business
    business.locale = "de-DE"
    business.save()
    page = browser_factory("en-US")  # the client's browser language does not matter
    page.goto(f"{live_server.url}/p/{version.token}")
    total = page.locator('[data-sum="total"]')
    assert total.inner_text() == format_money(Decimal("2346"), "EUR", "de-DE")  # the server's
    page.get_by_label("Hosting (12 months)").check()
    assert total.inner_text() == format_money(Decimal("2586"), "EUR", "de-DE")  # public.js


def test_the_estimate_notes_discounts_only_when_one_counts(live_server, browser_factory):
    membership = MembershipFactory(business__locale="en-US", business__currency="USD")
    ClientFactory(business=membership.business)
    page = browser_factory("en-US")
    page.goto(f"{live_server.url}/accounts/login/?next=/app/proposals/new")
    page.get_by_label("Email").fill(membership.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    note = page.locator("[data-estimate] [data-discount-line]")

    page.locator("#id_s-0-i-0-name").fill("Design")
    page.locator("#id_s-0-i-0-unit_price").fill("200")
    page.locator('[data-estimate-sum="total"]').get_by_text("$200.00").wait_for()
    assert note.is_hidden()  # no "Discounts included: $0.00"

    page.locator("#id_s-0-i-0-discount_percent").fill("10")
    note.wait_for(state="visible")
    assert note.inner_text() == "Discounts included: $20.00"
    page.locator("#id_s-0-i-0-discount_percent").fill("0")
    note.wait_for(state="hidden")
