"""The payment schedule on the client's page in a real browser: ticking an option updates the
payments at once (public.js) to exactly what accepting then records (proposals.schedule).

Playwright drives Debian's Chromium (/usr/bin/chromium) against pytest-django's live server.
"""

import os
from decimal import Decimal

import pytest

from common.money import format_money
from proposals.models import Acceptance
from tests.proposals.factories import item, make_sent_proposal, sections
from tests.proposals.test_browser import browser_page  # noqa: F401 (fixture)

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SCHEDULE = [
    {"kind": "deposit", "amount_type": "percent", "value": "33.33"},
    {"kind": "milestone", "amount_type": "fixed", "value": "100.05", "due": "days_after",
     "due_days": 7},
    {"kind": "milestone", "label": "Handover", "amount_type": "balance", "due": "days_after",
     "due_days": 30},
]  # fmt: skip


def test_ticking_an_option_updates_the_payments_to_what_is_accepted(live_server, browser_page):  # noqa: F811
    _, version = make_sent_proposal(
        title="Kitchen",
        sections=sections(
            item("Cabinets", "1", "1000.01"), item("Island", "1", "555.55", optional=True)
        ),
        payment_schedule=SCHEDULE,
    )
    page = browser_page
    page.goto(f"{live_server.url}/p/{version.token}")
    page.get_by_role("heading", name="Payment schedule").wait_for()
    amounts = page.locator("[data-payment-amount]")
    # 33.33% of 1,000.01 is 333.303… → 333.30; the balance takes the rest.
    assert amounts.all_inner_texts() == ["$333.30", "$100.05", "$566.66"]

    page.get_by_label("Island").check()
    # 33.33% of 1,555.56 is 518.468… → 518.47.
    assert amounts.all_inner_texts() == ["$518.47", "$100.05", "$937.04"]

    page.get_by_label("Your full name").fill("Ada Lovelace")
    page.get_by_label("I have read and accept this proposal and its terms.").check()
    page.get_by_role("button", name="Accept proposal").click()
    page.get_by_role("heading", name="Accepted — thank you").wait_for()
    acceptance = Acceptance.objects.get()
    recorded = [format_money(Decimal(p["amount"]), "USD") for p in acceptance.payment_schedule]
    assert recorded == ["$518.47", "$100.05", "$937.04"]
    assert page.locator(".accepted-copy .payment-schedule").inner_text().count("$937.04") == 1
