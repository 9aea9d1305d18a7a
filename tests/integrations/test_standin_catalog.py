"""The stand-in's catalog reads (Stores Catalog V1 Query Products, Bookings Services V2 Query
Services), called over HTTP as the product's Wix client will call Wix."""

import json

import httpx
import pytest

from tests.integrations.standin_site import Site, fresh_standin

PRODUCTS = "/stores-reader/v1/products/query"
SERVICES = "/bookings/v2/services/query"


@pytest.fixture
def standin(_standin_server):
    yield from fresh_standin(_standin_server)


@pytest.fixture
def site(standin) -> Site:
    return Site(standin)


def products(site: Site, query: dict | None = None, **options) -> httpx.Response:
    return site.post(PRODUCTS, {"query": query or {}, **options})


def names(items: list[dict]) -> list[str]:
    return [item["name"] for item in items]


# -- Stores ----------------------------------------------------------------------------------
def test_every_site_has_a_catalog_of_its_own(site, standin):
    other = Site(standin)

    mine = products(site).json()
    theirs = products(other).json()

    assert mine["totalResults"] == 3
    assert names(mine["products"]) == names(theirs["products"])
    assert {p["id"] for p in mine["products"]}.isdisjoint({p["id"] for p in theirs["products"]})


def test_variants_come_only_when_asked_for_with_their_own_prices(site):
    plain = products(site).json()["products"]
    with_variants = products(site, includeVariants=True).json()["products"]

    assert all("variants" not in p for p in plain)
    album = next(p for p in with_variants if p["name"] == "Printed album")
    assert album["priceData"] == {"currency": "USD", "price": 120.0, "discountedPrice": 120.0}
    assert album["productOptions"][0]["name"] == "Size"
    assert [(v["choices"], v["variant"]["priceData"]["price"]) for v in album["variants"]] == [
        ({"Size": "20x20"}, 120.0),
        ({"Size": "30x30"}, 180.0),
    ]
    assert next(p for p in with_variants if p["name"] == "Photo session")["variants"] == []


def test_products_are_searched_and_fetched_with_json_string_filters(site, standin):
    all_products = products(site).json()["products"]
    wanted = all_products[2]["id"]
    foreign = products(Site(standin)).json()["products"][0]["id"]

    found = products(site, {"filter": json.dumps({"name": {"$startsWith": "PRINT"}})}).json()
    by_id = products(site, {"filter": json.dumps({"id": {"$in": [wanted, foreign]}})}).json()
    hidden = products(site, {"filter": json.dumps({"visible": False})}).json()

    assert names(found["products"]) == ["Printed album"]
    assert [p["id"] for p in by_id["products"]] == [wanted]  # another site's id is not there
    assert names(hidden["products"]) == ["Framed print"]


def test_products_page_by_limit_and_offset_up_to_100(site):
    site.seed(products=[{"name": f"Item {n:03d}", "price": "1.00"} for n in range(150)])
    sort = json.dumps([{"fieldName": "name", "order": "ASC"}])

    first = products(site, {"sort": sort, "paging": {"limit": 100, "offset": 0}}).json()
    second = products(site, {"sort": sort, "paging": {"limit": 100, "offset": 100}}).json()

    assert first["totalResults"] == 150
    assert first["metadata"] == {"items": 100, "offset": 0}
    assert second["metadata"] == {"items": 50, "offset": 100}
    assert names(first["products"] + second["products"]) == [f"Item {n:03d}" for n in range(150)]


@pytest.mark.parametrize(
    "query",
    [
        {"filter": "{not json"},
        {"filter": json.dumps({"priceData.price": 1})},
        {"filter": json.dumps({"name": {"$regex": "x"}})},
        {"paging": {"limit": 101}},
        {"paging": {"limit": 10, "offset": -1}},
        {"sort": json.dumps([{"fieldName": "priceData.price"}])},
    ],
)
def test_an_unsupported_product_query_is_refused(site, query):
    assert products(site, query).status_code == 400


@pytest.mark.parametrize(
    ("catalog", "status"), [("V3_CATALOG", 428), ("not_installed", 428), ("forbidden", 403)]
)
def test_a_site_the_v1_catalog_does_not_serve_is_refused(site, catalog, status):
    site.seed(stores_catalog=catalog)

    assert products(site).status_code == status


# -- Bookings --------------------------------------------------------------------------------
def test_services_carry_their_payment_as_wix_shapes_it(site):
    services = site.post(SERVICES, {"query": {}}).json()["services"]

    consultation = next(s for s in services if s["name"] == "Consultation")
    call = next(s for s in services if s["name"] == "Discovery call")
    assert consultation["payment"]["rateType"] == "FIXED"
    assert consultation["payment"]["fixed"] == {"price": {"value": "80.00", "currency": "USD"}}
    assert call["payment"]["rateType"] == "NO_FEE"
    assert "fixed" not in call["payment"]


def test_services_filter_and_page_by_offset(site):
    site.seed(
        services=[{"name": f"Session {n}", "type": "CLASS", "price": "10"} for n in range(5)]
        + [{"name": "Chat", "type": "APPOINTMENT", "rateType": "NO_FEE"}]
    )

    body = site.post(
        SERVICES, {"query": {"filter": {"type": "CLASS"}, "paging": {"limit": 2, "offset": 2}}}
    ).json()

    assert names(body["services"]) == ["Session 2", "Session 3"]
    assert body["pagingMetadata"] == {"count": 2, "offset": 2, "total": 5, "hasNext": True}


def test_another_sites_service_id_is_not_found(site, standin):
    foreign = site.post(SERVICES, {"query": {}}).json()["services"][0]["id"]

    body = Site(standin).post(SERVICES, {"query": {"filter": {"id": {"$in": [foreign]}}}}).json()

    assert body["services"] == []


@pytest.mark.parametrize(("access", "status"), [("not_installed", 428), ("forbidden", 403)])
def test_a_site_without_bookings_is_refused(site, access, status):
    site.seed(bookings_access=access)

    assert site.post(SERVICES, {"query": {}}).status_code == status


def test_an_unsupported_service_filter_is_refused(site):
    unsupported = site.post(SERVICES, {"query": {"filter": {"payment.rateType": "FIXED"}}})
    too_many = site.post(SERVICES, {"query": {"paging": {"limit": 101}}})

    assert unsupported.status_code == 400
    assert too_many.status_code == 400


# -- faults ----------------------------------------------------------------------------------
@pytest.mark.parametrize("path", [PRODUCTS, SERVICES])
def test_a_slow_catalog_trips_a_short_page_deadline(site, standin, path):
    standin.faults(latency_ms=800, paths=[path + "$"])

    with pytest.raises(httpx.ReadTimeout):
        site.post(path, {"query": {}}, timeout=httpx.Timeout(0.3, connect=1.0))


@pytest.mark.parametrize(
    ("faults", "status"),
    [({"outage": True}, 503), ({"error_burst": 1, "error_status": 500}, 500)],
)
def test_catalog_calls_get_the_switched_on_server_errors(site, standin, faults, status):
    standin.faults(paths=["/stores-reader", "/bookings"], **faults)

    assert products(site).status_code == status


def test_a_catalog_rate_limit_storm_answers_429_with_retry_after(site, standin):
    standin.faults(storm_429=1, retry_after=3, paths=[SERVICES + "$"])

    limited = site.post(SERVICES, {"query": {}})

    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "3"
    assert site.post(SERVICES, {"query": {}}).status_code == 200


def test_a_dropped_catalog_connection_is_a_transport_error(site, standin):
    standin.faults(drop_next=1, paths=[PRODUCTS + "$"])

    with pytest.raises(httpx.TransportError):
        products(site)
    assert standin.count("POST " + PRODUCTS) == 1
