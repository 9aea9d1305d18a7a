"""Amounts on the admin's lists and change pages as the business writes them, in the row's
currency (issue 13 pt 3): ``1.250,50 €`` for a German business, never the stored
``1250.5000``."""

import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from integrations.invoices import ScheduledPayment, invoices_schedule
from proposals.models import LineItem
from tests.proposals.factories import accept
from tests.proposals.test_money_pages import german_sent_proposal

pytestmark = pytest.mark.django_db

# Four decimal places, as the DecimalFields store every amount.
STORED = re.compile(r"\b\d+\.\d{4}\b")


def text_of(response) -> str:
    assert response.status_code == 200
    page = re.sub(r"<[^>]+>", " ", response.content.decode()).replace("&nbsp;", "\xa0")
    return re.sub(r"[ \n\t]+", " ", page)


@pytest.fixture
def german_rows():
    proposal, version = german_sent_proposal()
    acceptance = accept(version)
    (invoice,) = invoices_schedule(
        acceptance=acceptance,
        currency="EUR",
        payments=[ScheduledPayment(1, "Deposit", Decimal("1250.5"), timezone.now())],
    )
    design = LineItem.objects.get(section__proposal=proposal, name="Design")
    return {"proposal": proposal, "acceptance": acceptance, "invoice": invoice, "item": design}


@pytest.mark.parametrize(
    ("model", "row", "shown"),
    [
        ("proposals_proposal", "proposal", ["Total: 2.346,00\xa0€"]),
        ("proposals_acceptance", "acceptance", ["Total: 2.346,00\xa0€"]),
        ("proposals_lineitem", "item", ["Unit price: 1.200,00\xa0€"]),
        (
            "integrations_wixinvoice",
            "invoice",
            ["Amount: 1.250,50\xa0€", "Paid amount: 0,00\xa0€"],
        ),
    ],
)
def test_change_pages_write_amounts_as_the_business_does(
    support_client, german_rows, model, row, shown
):
    url = reverse(f"admin:{model}_change", args=[german_rows[row].pk])
    page = text_of(support_client.get(url))
    for amount in shown:
        assert amount in page
    assert not STORED.findall(page)


@pytest.mark.parametrize(
    ("model", "shown"),
    [
        ("proposals_proposal", "2.346,00\xa0€"),
        ("proposals_acceptance", "2.346,00\xa0€"),
        ("proposals_lineitem", "1.200,00\xa0€"),
        ("integrations_wixinvoice", "1.250,50\xa0€"),
    ],
)
def test_lists_write_amounts_as_the_business_does(support_client, german_rows, model, shown):
    page = text_of(support_client.get(reverse(f"admin:{model}_changelist")))
    assert shown in page
    assert not STORED.findall(page)
