"""The proposal editor reads and shows numbers as the business writes them, refuses what it
would have to guess, and never drops rows behind damaged counters (issue 13 pts 2, 3, 10;
issue 12 pt 4)."""

import re
from decimal import Decimal
from html import unescape

import pytest
from django.urls import reverse

from proposals import selectors
from proposals.forms import SectionsEditor
from proposals.models import Proposal, ProposalTemplate
from tests.proposals.factories import ClientFactory, make_proposal

pytestmark = pytest.mark.django_db

CREATE = "dashboard:proposal_create"


def page_of(response) -> str:
    return unescape(response.content.decode())


def post_data(client_pk: int, **overrides) -> dict:
    data = {
        "title": "Garden",
        "client": str(client_pk),
        "currency": "EUR",
        "valid_until": "",
        "intro": "",
        "terms": "",
        "s-count": "1",
        "s-0-title": "Work",
        "s-0-i-count": "2",
        "s-0-i-0-name": "Design",
        "s-0-i-0-quantity": "1",
        "s-0-i-0-unit_price": "500",
        "s-0-i-1-name": "Planting",
        "s-0-i-1-quantity": "2",
        "s-0-i-1-unit_price": "120.50",
    }
    data.update(overrides)
    return data


def saved_items(proposal: Proposal) -> list[dict]:
    return [i for s in selectors.working_copy_sections(proposal) for i in s["items"]]


@pytest.fixture
def german(business):
    business.locale = "de-DE"
    business.currency = "EUR"
    business.save()
    return business


# --- reading typed numbers (pt 2) ------------------------------------------------------------
def test_german_comma_is_the_decimal_mark(owner_client, german):
    ada = ClientFactory(business=german)
    data = post_data(
        ada.pk,
        **{"s-0-i-0-unit_price": "1,5", "s-0-i-1-quantity": "1.000", "s-0-i-1-unit_price": "2,25"},
    )
    response = owner_client.post(reverse(CREATE), data)
    assert response.status_code == 302, page_of(response)
    items = saved_items(Proposal.objects.get(business=german))
    assert Decimal(str(items[0]["unit_price"])) == Decimal("1.5")  # not 15
    assert Decimal(str(items[1]["quantity"])) == Decimal("1000")  # a German thousand
    page = page_of(owner_client.get(response["Location"]))
    assert "2.251,50\xa0€" in page  # 1.5 + 1000 × 2.25, as a German reader writes it


def test_german_point_decimal_is_refused_not_read_as_fifteen(owner_client, german):
    ada = ClientFactory(business=german)
    response = owner_client.post(
        reverse(CREATE), post_data(ada.pk, **{"s-0-i-0-unit_price": "1.5"})
    )
    assert response.status_code == 400
    page = page_of(response)
    assert "German (Germany)" in page and "1234,56 or 1.234,56" in page
    assert not Proposal.objects.exists()


def test_english_comma_is_refused_with_a_clear_error(owner_client, business):
    business.locale = "en-US"
    business.save()
    ada = ClientFactory(business=business)
    response = owner_client.post(
        reverse(CREATE), post_data(ada.pk, **{"s-0-i-0-unit_price": "1,5"})
    )
    assert response.status_code == 400
    page = page_of(response)
    assert 'id="id_s-0-i-0-unit_price-error"' in page
    assert "English (United States)" in page and "1234.56 or 1,234.56" in page
    assert not Proposal.objects.exists()


@pytest.mark.parametrize("locale", ["en-US", "de-DE"])
@pytest.mark.parametrize("typed", ["١٠٠", "１００", "1e3"])
def test_non_ascii_digits_are_refused_not_converted(owner_client, business, locale, typed):
    business.locale = locale
    business.save()
    ada = ClientFactory(business=business)
    response = owner_client.post(reverse(CREATE), post_data(ada.pk, **{"s-0-i-1-quantity": typed}))
    assert response.status_code == 400
    assert 'id="id_s-0-i-1-quantity-error"' in page_of(response)
    assert not Proposal.objects.exists()


def test_number_fields_are_decimal_text_inputs_showing_the_locale(owner_client, german):
    proposal = make_proposal(business=german)
    items = saved_items(proposal)
    page = page_of(owner_client.get(reverse("dashboard:proposal_edit", args=[proposal.pk])))
    tag = re.search(r'<input[^>]*id="id_s-0-i-0-unit_price"[^>]*>', page).group(0)
    assert 'type="text"' in tag and 'inputmode="decimal"' in tag
    assert 'type="number"' not in page
    price = Decimal(str(items[0]["unit_price"]))
    shown = f"{price:f}".rstrip("0").rstrip(".").replace(".", ",")
    assert f'value="{shown}"' in tag
    assert 'data-locale="de-DE"' in page and 'data-decimal=","' in page


def test_adding_a_row_without_javascript_keeps_numbers_as_typed(owner_client, german):
    ada = ClientFactory(business=german)
    data = post_data(ada.pk, **{"s-0-i-1-quantity": "1.000", "add_item": "0"})
    response = owner_client.post(reverse(CREATE), data)
    assert response.status_code == 200
    page = page_of(response)
    assert re.search(
        r'id="id_s-0-i-1-quantity"[^>]*value="1\.000"|value="1\.000"[^>]*id="id_s-0-i-1-quantity"',
        page,
    )
    assert 'id="id_s-0-i-2-name"' in page  # the new row


def test_template_editor_reads_the_locale_too(owner_client, german):
    prices = {"s-0-i-0-unit_price": "1,5", "s-0-i-1-unit_price": "120,50"}
    data = post_data(0, name="Standard", **prices)
    response = owner_client.post(reverse("dashboard:template_create"), data)
    assert response.status_code == 302, page_of(response)
    template = ProposalTemplate.objects.get(business=german)
    assert Decimal(str(template.sections[0]["items"][0]["unit_price"])) == Decimal("1.5")


# --- damaged counters (issue 12 pt 4) ---------------------------------------------------------
@pytest.mark.parametrize(
    "damage",
    [
        {"s-count": "abc"},
        {"s-count": "-1"},
        {"s-count": "0"},  # the posted section would be left out
        {"s-count": "1e1"},
        {"s-count": "١"},
        {"s-0-i-count": "x"},
        {"s-0-i-count": "1"},  # the second posted row would be left out
        {"s-0-i-count": ""},
    ],
)
def test_damaged_counters_are_a_form_error_and_nothing_is_saved(owner_client, business, damage):
    ada = ClientFactory(business=business)
    response = owner_client.post(reverse(CREATE), post_data(ada.pk, currency="USD", **damage))
    assert response.status_code == 400
    assert "row counts are damaged" in page_of(response)
    assert not Proposal.objects.exists()


@pytest.mark.parametrize(
    "damage, message",
    [
        ({"s-count": "51"}, "A proposal has at most 50 sections."),
        ({"s-0-i-count": "100000"}, "A proposal has at most 300 lines."),
    ],
)
def test_counters_beyond_the_limits_are_refused_by_the_rule_and_nothing_is_saved(
    owner_client, business, damage, message
):
    ada = ClientFactory(business=business)
    response = owner_client.post(reverse(CREATE), post_data(ada.pk, currency="USD", **damage))
    assert response.status_code == 400
    assert message in page_of(response)
    assert not Proposal.objects.exists()


def test_damaged_counters_on_edit_leave_the_saved_items_alone(owner_client, business):
    proposal = make_proposal(business=business)
    before = saved_items(proposal)
    data = post_data(
        proposal.client_id, currency=proposal.currency, revision=str(proposal.revision)
    )
    data["s-0-i-count"] = "junk"
    response = owner_client.post(reverse("dashboard:proposal_edit", args=[proposal.pk]), data)
    assert response.status_code == 400
    assert "row counts are damaged" in page_of(response)
    proposal.refresh_from_db()
    assert saved_items(proposal) == before


def test_damaged_counters_stay_an_error_after_add_row_without_javascript(owner_client, business):
    ada = ClientFactory(business=business)
    data = post_data(ada.pk, currency="USD", **{"s-0-i-count": "1", "add_item": "0"})
    response = owner_client.post(reverse(CREATE), data)
    assert "row counts are damaged" in page_of(response)


def test_no_rows_posted_at_all_is_no_error():
    editor = SectionsEditor({"title": "x"})
    assert editor.is_valid() and editor.cleaned_sections() == []


def test_empty_rows_beyond_the_counts_lose_nothing_and_pass():
    data = {"s-count": "1", "s-0-i-count": "1", "s-0-i-0-name": "A", "s-0-i-0-unit_price": "1"}
    data["s-0-i-5-name"] = ""
    editor = SectionsEditor(data, locale="en")
    assert editor.is_valid(), editor.errors
    assert [i["name"] for s in editor.cleaned_sections() for i in s["items"]] == ["A"]


# --- rich text (pt 10) ------------------------------------------------------------------------
def test_intro_and_terms_are_marked_for_the_rich_text_editor(owner_client, business):
    ClientFactory(business=business)
    page = page_of(owner_client.get(reverse(CREATE)))
    for name in ("intro", "terms"):
        tag = re.search(rf'<textarea[^>]*name="{name}"[^>]*>', page).group(0)
        assert "data-rich-text" in tag
    assert "vendor/trix/trix.umd.min.js" in page and "vendor/trix/trix.css" in page
    assert "//" not in re.search(r'<script src="([^"]*trix[^"]*)"', page).group(1)  # no CDN


def test_what_the_rich_text_editor_posts_is_still_sanitised(owner_client, business):
    ada = ClientFactory(business=business)
    intro = (
        '<p>Hi <strong>there</strong></p><p><img src=x onerror="alert(1)"><script>x()</script></p>'
    )
    response = owner_client.post(reverse(CREATE), post_data(ada.pk, currency="USD", intro=intro))
    assert response.status_code == 302
    proposal = Proposal.objects.get(business=business)
    assert "<strong>there</strong>" in proposal.intro
    assert "script" not in proposal.intro and "onerror" not in proposal.intro


# --- money shown in the business's locale (pt 3) ----------------------------------------------
def test_dashboard_list_and_detail_show_money_in_the_business_locale(owner_client, german):
    proposal = make_proposal(business=german, currency="EUR")
    list_page = page_of(owner_client.get(reverse("dashboard:proposal_list")))
    detail = page_of(owner_client.get(reverse("dashboard:proposal_detail", args=[proposal.pk])))
    assert "EUR " not in list_page and "EUR " not in detail
    assert re.search(r"\d,\d\d\xa0€", list_page) and re.search(r"\d,\d\d\xa0€", detail)


def test_template_editor_has_the_rich_text_editor_too(owner_client):
    page = page_of(owner_client.get(reverse("dashboard:template_create")))
    assert "data-rich-text" in page and "vendor/trix/trix.umd.min.js" in page
