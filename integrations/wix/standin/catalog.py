"""Stand-in for the catalog reads of issue 15: Wix Stores Catalog V1 Query Products and Wix
Bookings Services V2 Query Services (docs/wix-apis.md says what the docs confirmed).

    POST /stores-reader/v1/products/query   {"query": {"filter": "<JSON string>", "sort":
                                            "<JSON string>", "paging": {"limit", "offset"}},
                                            "includeVariants": bool}
    POST /bookings/v2/services/query        {"query": {"filter": {…}, "sort": […],
                                            "paging": {"limit", "offset"}}}

A site's catalog is seeded with ``POST /__instances`` (``products``, ``services``); without a
seed every site has a small catalog of its own. Ids are derived from the site's instance id,
so one site never sees another's. Seed shapes (every key but ``name`` optional):
    products: [{"id", "name", "description", "price": "12.50", "visible": true,
                "variants": [{"choices": {"Size": "L"}, "price": "14.00"}]}]
    services: [{"id", "name", "description", "type": "APPOINTMENT", "hidden": false,
                "rateType": "FIXED" | "NO_FEE" | "VARIED" | "CUSTOM", "price": "80.00"}]
"""

import json
import uuid
from decimal import Decimal

from common.money import quantize
from integrations.wix.standin.sites import (
    Answer,
    QueryError,
    error,
    offset_page,
    refusal,
    select,
    sort_items,
)

PRODUCTS_PATH = "/stores-reader/v1/products/query"
SERVICES_PATH = "/bookings/v2/services/query"
PAGE_MAX = 100
_NAMESPACE = uuid.UUID("7f1d0a52-5b0c-4c38-9a55-1d8e07c6a0b1")

DEFAULT_PRODUCTS = [
    {"name": "Photo session", "description": "Two hours on location.", "price": "350.00"},
    {
        "name": "Printed album",
        "description": "Lay-flat album, 30 pages.",
        "price": "120.00",
        "variants": [
            {"choices": {"Size": "20x20"}, "price": "120.00"},
            {"choices": {"Size": "30x30"}, "price": "180.00"},
        ],
    },
    {"name": "Framed print", "price": "45.50", "visible": False},
]
DEFAULT_SERVICES = [
    {"name": "Consultation", "type": "APPOINTMENT", "rateType": "FIXED", "price": "80.00"},
    {"name": "Workshop", "type": "CLASS", "rateType": "FIXED", "price": "45.00"},
    {"name": "Discovery call", "type": "APPOINTMENT", "rateType": "NO_FEE"},
]

PRODUCT_FILTERS = {
    "id": {"$eq", "$ne", "$in"},
    "name": {"$eq", "$startsWith", "$contains"},
    "visible": {"$eq", "$ne"},
}
# A subset of the filters Query Services documents.
SERVICE_FILTERS = {
    "id": {"$eq", "$ne", "$in", "$exists", "$startsWith"},
    "name": {"$eq", "$ne", "$in", "$exists", "$startsWith"},
    "type": {"$eq", "$ne", "$in", "$exists"},
    "hidden": {"$eq", "$ne", "$in", "$exists"},
    "category.id": {"$eq", "$ne", "$in", "$exists"},
    "payment.options.online": {"$eq", "$ne", "$exists"},
}


def _id(instance_id: str, kind: str, index: int, name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{instance_id}/{kind}/{index}/{name}"))


def _price_data(price: str, currency: str) -> dict:
    # Catalog V1 gives prices as JSON numbers.
    amount = float(quantize(Decimal(price), currency))
    return {"currency": currency, "price": amount, "discountedPrice": amount}


def _product(instance_id: str, index: int, seed: dict, currency: str) -> tuple[dict, list]:
    name = seed["name"]
    base_price = seed.get("price", "0")
    product_id = seed.get("id") or _id(instance_id, "product", index, name)
    variants = []
    options: dict[str, list[str]] = {}
    for number, variant in enumerate(seed.get("variants") or []):
        choices = variant["choices"]
        for option, choice in choices.items():
            if choice not in options.setdefault(option, []):
                options[option].append(choice)
        variants.append(
            {
                "id": variant.get("id") or _id(product_id, "variant", number, str(choices)),
                "choices": dict(choices),
                "variant": {
                    "priceData": _price_data(variant.get("price", base_price), currency),
                    "visible": True,
                    "sku": "",
                },
            }
        )
    product = {
        "id": product_id,
        "name": name,
        "slug": name.lower().replace(" ", "-"),
        "visible": seed.get("visible", True),
        "productType": "physical",
        "description": f"<p>{seed['description']}</p>" if seed.get("description") else "",
        "sku": "",
        "numericId": str(1000 + index),
        "priceData": _price_data(base_price, currency),
        "manageVariants": bool(variants),
        "productOptions": [
            {
                "optionType": "drop_down",
                "name": option,
                "choices": [
                    {"value": c, "description": c, "inStock": True, "visible": True}
                    for c in option_choices
                ],
            }
            for option, option_choices in options.items()
        ],
    }
    return product, variants


def _service(instance_id: str, index: int, seed: dict, currency: str) -> dict:
    rate_type = seed.get("rateType", "FIXED")
    payment: dict = {"rateType": rate_type, "options": {"online": True, "inPerson": False}}
    if rate_type == "FIXED":
        value = str(quantize(Decimal(seed.get("price", "0")), currency))
        payment["fixed"] = {"price": {"value": value, "currency": currency}}
    elif rate_type == "NO_FEE":
        payment["options"] = {"online": False, "inPerson": True}
    elif rate_type == "CUSTOM":
        payment["custom"] = {"description": seed.get("priceDescription", "Price on request")}
    return {
        "id": seed.get("id") or _id(instance_id, "service", index, seed["name"]),
        "revision": "1",
        "type": seed.get("type", "APPOINTMENT"),
        "name": seed["name"],
        "description": seed.get("description", ""),
        "hidden": seed.get("hidden", False),
        "payment": payment,
        "onlineBooking": {"enabled": True},
    }


def _site(handler, instance_id: str) -> dict:
    state = handler.server.state
    with state.lock:
        return dict(state.instance(instance_id))


def _query_products(handler, body: dict) -> Answer:
    def work(instance_id: str, payload: dict) -> Answer:
        data = _site(handler, instance_id)
        catalog = data.get("stores_catalog", "V1_CATALOG")
        refused = refusal(catalog, "Wix Stores")
        if refused:
            return refused
        if catalog != "V1_CATALOG":
            # The docs quote 428 for the other catalog version's endpoints.
            return error(428, f"wrong catalog version: this site is {catalog}")
        query = payload.get("query") or {}
        try:
            query_filter = json.loads(query["filter"]) if query.get("filter") else {}
            sort = json.loads(query["sort"]) if query.get("sort") else []
            products = [
                _product(instance_id, i, seed, data["currency"])
                for i, seed in enumerate(data.get("products", DEFAULT_PRODUCTS))
            ]
            variants = {p["id"]: v for p, v in products}
            chosen = select([p for p, _ in products], query_filter, PRODUCT_FILTERS)
            order = sort_items(chosen, sort, {"name", "numericId"})
            page, _limit, offset = offset_page(
                order, query.get("paging") or {}, default_limit=PAGE_MAX, maximum=PAGE_MAX
            )
        except (ValueError, TypeError) as exc:  # QueryError and bad JSON strings alike
            return error(400, f"invalid query: {exc}", "INVALID_QUERY")
        if payload.get("includeVariants"):
            page = [{**p, "variants": variants[p["id"]]} for p in page]
        return (
            200,
            {
                "products": page,
                "metadata": {"items": len(page), "offset": offset},
                "totalResults": len(order),
            },
            {},
        )

    return handler._api(body, work)


def _filtered_services(items: list[dict], query_filter: dict, sort: list) -> list[dict]:
    return sort_items(select(items, query_filter, SERVICE_FILTERS), sort, {"name"})


def _query_services(handler, body: dict) -> Answer:
    def work(instance_id: str, payload: dict) -> Answer:
        data = _site(handler, instance_id)
        refused = refusal(data.get("bookings_access", "ok"), "Wix Bookings")
        if refused:
            return refused
        query = payload.get("query") or {}
        services = [
            _service(instance_id, i, seed, data["currency"])
            for i, seed in enumerate(data.get("services", DEFAULT_SERVICES))
        ]
        try:
            # Offset paging only, 100 at most and by default, as Query Services documents.
            chosen = _filtered_services(
                services, query.get("filter") or {}, query.get("sort") or []
            )
            page, limit, offset = offset_page(
                chosen, query.get("paging") or {}, default_limit=PAGE_MAX, maximum=PAGE_MAX
            )
        except QueryError as exc:
            return error(400, f"invalid query: {exc}", "INVALID_QUERY")
        metadata = {
            "count": len(page),
            "offset": offset,
            "total": len(chosen),
            "hasNext": offset + limit < len(chosen),
        }
        return 200, {"services": page, "pagingMetadata": metadata}, {}

    return handler._api(body, work)


def route(method: str, path: str):
    if method == "POST" and path == PRODUCTS_PATH:
        return _query_products, ()
    if method == "POST" and path == SERVICES_PATH:
        return _query_services, ()
    return None
