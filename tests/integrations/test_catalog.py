""" "Add from catalog": the business's Wix Stores products (each variant) and Bookings services,
read through the Wix client with the page's own short deadline, paged, searched, cached
briefly; an added item becomes a line with its name, description, price and source; Wix down or
refusing leaves the editor working by hand, saying why; another site's item is never added."""

import time
from decimal import Decimal

import pytest
from django.urls import reverse

from integrations.catalog import catalog
from proposals import selectors, services
from proposals.models import LineItem
from tests.proposals.factories import ClientFactory, make_proposal
from tests.proposals.pages import html
from tests.proposals.test_views_dashboard_editor import editor_post

pytestmark = pytest.mark.django_db
PRODUCTS = "POST /stores-reader/v1/products/query"
SERVICES = "POST /bookings/v2/services/query"


def reads(wix) -> int:
    return wix.count(PRODUCTS) + wix.count(SERVICES)


def by_name(page) -> dict:
    return {item.name: item for item in page.items}


# --- the reader -----------------------------------------------------------------------------
def test_the_catalog_lists_visible_products_each_variant_and_bookable_services(wix, business):
    page = catalog.search(business, "", 0)

    items = by_name(page)
    assert page.problems == [] and page.has_next is False
    assert set(items) == {
        "Photo session",
        "Printed album (Size: 20x20)",
        "Printed album (Size: 30x30)",
        "Consultation",
        "Workshop",
        "Discovery call",
    }  # the hidden "Framed print" is not offered
    session = items["Photo session"]
    assert (session.kind, session.unit_price, session.currency) == (
        "Product",
        Decimal("350"),
        "USD",
    )
    assert session.description == "Two hours on location."  # the HTML description as text
    big = items["Printed album (Size: 30x30)"]
    assert big.unit_price == Decimal("180") and big.detail == "Size: 30x30"
    assert big.source.startswith("wix-stores:") and "/" in big.source  # product / variant
    assert items["Consultation"].unit_price == Decimal("80.00")
    assert items["Consultation"].source.startswith("wix-bookings:")
    assert items["Discovery call"].unit_price == Decimal(0)


def test_a_service_without_one_price_is_offered_for_the_business_to_price(wix, business):
    wix.seed(
        instance_id=business.instance_id,
        services=[{"name": "Custom shoot", "rateType": "CUSTOM", "priceDescription": "Ask us"}],
    )
    item = by_name(catalog.search(business, "", 0))["Custom shoot"]
    assert item.unit_price is None and "enter it yourself" in item.detail


def test_search_finds_names_that_start_with_the_text(wix, business):
    page = catalog.search(business, "Print", 0)
    assert sorted(by_name(page)) == ["Printed album (Size: 20x20)", "Printed album (Size: 30x30)"]
    assert catalog.search(business, "Nothing like it", 0).items == []


def test_a_big_catalog_comes_a_page_at_a_time(wix, business, settings):
    settings.WIX_CATALOG_PAGE_SIZE = 10
    wix.seed(
        instance_id=business.instance_id,
        products=[{"name": f"Item {n:02}", "price": "1.00"} for n in range(25)],
        services=[],
    )
    pages = [catalog.search(business, "", n) for n in range(3)]

    assert [len(p.items) for p in pages] == [10, 10, 5]
    assert [p.has_next for p in pages] == [True, True, False]
    assert len({i.source for p in pages for i in p.items}) == 25


def test_a_page_read_is_kept_briefly_instead_of_asking_wix_again(wix, business):
    catalog.search(business, "", 0)
    before = reads(wix)
    catalog.search(business, "", 0)
    assert reads(wix) == before
    catalog.search(business, "Photo", 0)  # another search is another read
    assert reads(wix) == before + 2


def test_a_site_that_refuses_one_part_still_lists_the_other_with_the_reason(wix, business):
    wix.seed(instance_id=business.instance_id, stores_catalog="forbidden")
    page = catalog.search(business, "", 0)

    assert {i.kind for i in page.items} == {"Service"}
    assert len(page.problems) == 1 and "access to its products" in page.problems[0]

    wix.seed(instance_id=business.instance_id, stores_catalog="V1_CATALOG")
    wix.seed(instance_id=business.instance_id, bookings_access="not_installed")
    other = catalog.search(business, "x", 0)
    assert other.problems == ["Wix Bookings isn't set up on your Wix site."]


def test_wix_hanging_costs_the_page_its_deadline_not_more(wix, business, settings):
    settings.WIX_CATALOG_DEADLINE = 0.6
    wix.faults(hang=True, hang_seconds=10, paths=["/stores-reader", "/bookings"])
    started = time.monotonic()
    page = catalog.search(business, "", 0)
    took = time.monotonic() - started
    wix.faults(hang=False)

    assert page.items == []
    assert len(page.problems) == 2 and all("didn't answer in time" in p for p in page.problems)
    assert took < 0.6 + 0.5  # both parts together, within the page's deadline (and slack)


def test_an_item_is_found_again_only_in_its_own_sites_catalog(wix, business, other_business):
    source = by_name(catalog.search(business, "", 0))["Printed album (Size: 20x20)"].source

    assert catalog.find(business, source).name == "Printed album (Size: 20x20)"
    assert catalog.find(other_business, source) is None
    assert catalog.find(business, source.split("/")[0] + "/not-a-variant") is None
    assert catalog.find(business, "wix-elsewhere:abc") is None


# --- the editor -----------------------------------------------------------------------------
@pytest.fixture
def ada(business):
    return ClientFactory(business=business)


def create(owner_client, data):
    return owner_client.post(reverse("dashboard:proposal_create"), data)


def test_the_editor_opens_without_asking_wix_and_offers_the_catalog(wix, owner_client, ada):
    page = html(owner_client.get(reverse("dashboard:proposal_create")))
    assert "Add from your Wix catalog" in page and 'name="catalog_q"' in page
    assert reads(wix) == 0


def test_adding_a_catalog_item_copies_it_into_a_line_and_saving_keeps_its_source(
    wix, owner_client, business, ada
):
    data = editor_post(client=str(ada.pk))
    listed = create(owner_client, {**data, "catalog_q": "Photo", "catalog_search": "0"})
    assert listed.status_code == 200
    page = html(listed)
    assert "Photo session" in page and "$350.00" in page and "Consultation" not in page
    assert 'value="Planting"' in page  # the rows typed so far are kept
    source = by_name(catalog.search(business, "Photo", 0))["Photo session"].source

    added = create(owner_client, {**data, "catalog_q": "Photo", "catalog_add": source})
    page = html(added)
    assert "Added “Photo session” to section 1." in page
    assert 'name="s-0-i-count" value="4"' in page
    assert 'name="s-0-i-3-name" value="Photo session"' in page.replace(' maxlength="200"', "")
    assert f'name="s-0-i-3-source" value="{source}"' in page

    saved = create(
        owner_client,
        {
            **data,
            "s-0-i-count": "4",
            "s-0-i-3-name": "Photo session",
            "s-0-i-3-description": "Two hours on location.",
            "s-0-i-3-quantity": "1",
            "s-0-i-3-unit_price": "350",
            "s-0-i-3-source": source,
        },
    )
    assert saved.status_code == 302
    line = LineItem.objects.get(section__proposal__business=business, name="Photo session")
    assert (line.source, line.unit_price) == (source, Decimal("350"))


def test_an_added_item_fills_the_empty_last_row_instead_of_adding_one(
    wix, owner_client, ada, business
):
    source = by_name(catalog.search(business, "", 0))["Workshop"].source
    data = editor_post(
        client=str(ada.pk), **{"s-0-i-count": "1", "s-0-i-0-name": "", "s-0-i-0-unit_price": ""}
    )
    data = {k: v for k, v in data.items() if not k.startswith(("s-0-i-1", "s-0-i-2"))}
    page = html(create(owner_client, {**data, "catalog_add": source}))
    assert 'name="s-0-i-count" value="1"' in page
    assert "Workshop" in page


def test_wix_down_leaves_the_editor_working_by_hand_and_says_why(wix, owner_client, ada):
    wix.faults(outage=True)
    data = editor_post(client=str(ada.pk))

    listed = create(owner_client, {**data, "catalog_search": "0"})
    assert listed.status_code == 200
    page = html(listed)
    assert "answer in time with your products" in page
    assert 'value="Planting"' in page

    saved = create(owner_client, data)  # saving never touches the catalog
    assert saved.status_code == 302


def test_another_sites_item_or_a_made_up_one_is_refused_and_nothing_is_added(
    wix, owner_client, ada, other_business
):
    theirs = by_name(catalog.search(other_business, "", 0))["Photo session"].source
    data = editor_post(client=str(ada.pk))
    for source in (theirs, "wix-stores:../../etc", "nonsense"):
        page = html(create(owner_client, {**data, "catalog_add": source}))
        assert "not in your Wix catalog" in page
        assert 'name="s-0-i-count" value="3"' in page


def test_a_damaged_source_on_a_posted_row_is_a_form_error_not_saved(
    wix, owner_client, ada, business
):
    response = create(
        owner_client, editor_post(client=str(ada.pk), **{"s-0-i-0-source": "drop table"})
    )
    assert response.status_code == 400
    assert "catalog reference is damaged" in html(response)
    assert not LineItem.objects.filter(section__proposal__business=business).exists()


def with_line(business, client, name: str, source: str):
    """A draft with one line copied from the catalog item ``source``."""
    line = {"name": name, "unit_price": "10", "source": source}
    return make_proposal(
        business=business, client=client, sections=[{"title": "", "items": [line]}]
    )


def test_a_line_keeps_its_source_in_the_editor(wix, owner_client, business, ada):
    source = by_name(catalog.search(business, "", 0))["Consultation"].source
    proposal = with_line(business, ada, "Consultation", source)
    page = html(owner_client.get(reverse("dashboard:proposal_edit", args=[proposal.pk])))
    assert f'name="s-0-i-0-source" value="{source}"' in page
    assert selectors.working_copy_sections(proposal)[0]["items"][0]["source"] == source


def test_the_sent_version_keeps_each_lines_source(wix, business, ada):
    source = by_name(catalog.search(business, "", 0))["Workshop"].source
    proposal = with_line(business, ada, "Workshop", source)
    version = services.proposal_send(proposal=proposal, acting_user=None)
    assert version.snapshot["sections"][0]["items"][0]["source"] == source
