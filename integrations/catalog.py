"""The business's Wix catalog for "add from catalog": Stores products (each variant its own
choice) and Bookings services, read through the Wix client (docs/wix-apis.md §2–3).

The editor waits for it at most ``WIX_CATALOG_DEADLINE`` seconds for both parts together (the
page's own deadline, retries included); a part that can't be read is reported with why, and the
other part is still shown. Pages read are kept ``WIX_CATALOG_CACHE_SECONDS`` per site, search
and page: flipping back and forth or adding several items costs Wix one read. Adding an item
re-reads it by id from this business's site: a posted reference is never trusted, and another
site's id finds nothing.
"""

import hashlib
import html
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import structlog
from django.conf import settings
from django.core.cache import cache
from django.utils.html import strip_tags

from integrations.wix.client import WixClient, WixError
from proposals import rules
from proposals.catalog import MAX_PAGE, CatalogItem, CatalogPage, CatalogUnavailable, clean_query

log = structlog.get_logger(__name__)

STORES = "wix-stores"
BOOKINGS = "wix-bookings"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class _Part:
    source: str
    label: str  # the Wix app, for the business: "Wix Stores"
    what: str  # its items: "products"
    read: Callable[..., tuple[list[CatalogItem], bool]]


def _text(value: object, limit: int) -> str:
    """Plain text of a Wix string (Stores descriptions are HTML), whitespace folded."""
    text = html.unescape(strip_tags(str(value or "")))
    return " ".join(text.split())[:limit]


def _decimal(value: object) -> Decimal | None:
    """A price Wix gave as a number or a string; None when it is no usable price."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number < 0 or number > rules.MAX_UNIT_PRICE:
        return None
    return number


def _name_filter(query: str) -> dict:
    return {"name": {"$startsWith": query}} if query else {}


# --- Stores products (Catalog V1) ------------------------------------------------------------
def _product_items(product: dict, currency: str) -> list[CatalogItem]:
    product_id = str(product.get("id") or "")
    if not _ID.match(product_id):
        return []
    name = _text(product.get("name"), rules.MAX_NAME) or "Product"
    description = _text(product.get("description"), rules.MAX_TEXT)
    price_data = product.get("priceData") or {}
    base = CatalogItem(
        source=f"{STORES}:{product_id}",
        kind="Product",
        name=name,
        description=description,
        unit_price=_decimal(price_data.get("price")),
        currency=str(price_data.get("currency") or currency),
    )
    variants = [v for v in product.get("variants") or [] if isinstance(v, dict)]
    if not product.get("manageVariants") or not variants:
        return [base]
    items = []
    for variant in variants:
        variant_id = str(variant.get("id") or "")
        if not _ID.match(variant_id):
            continue
        choices = variant.get("choices") or {}
        detail = ", ".join(f"{option}: {choice}" for option, choice in choices.items())
        data = (variant.get("variant") or {}).get("priceData") or {}
        label = f"{name} ({detail})" if detail else name
        items.append(
            CatalogItem(
                source=f"{base.source}/{variant_id}",
                kind="Product",
                name=label[: rules.MAX_NAME],
                description=description,
                unit_price=_decimal(data.get("price", price_data.get("price"))),
                currency=str(data.get("currency") or base.currency),
                detail=detail,
            )
        )
    return items


def _read_products(client, currency, query_filter, *, offset, limit, deadline):
    query_filter = {"visible": {"$eq": True}, **query_filter}
    answer = client.query_products(query_filter, offset=offset, limit=limit, deadline=deadline)
    products = [p for p in answer.get("products") or [] if isinstance(p, dict)]
    total = answer.get("totalResults")
    has_next = offset + len(products) < total if isinstance(total, int) else len(products) == limit
    items = [item for product in products for item in _product_items(product, currency)]
    return items, has_next


# --- Bookings services (Services V2) ---------------------------------------------------------
def _service_item(service: dict, currency: str) -> CatalogItem | None:
    service_id = str(service.get("id") or "")
    if not _ID.match(service_id):
        return None
    payment = service.get("payment") or {}
    rate = payment.get("rateType")
    price = None
    detail = ""
    if rate == "FIXED":
        fixed = (payment.get("fixed") or {}).get("price") or {}
        price = _decimal(fixed.get("value"))
        currency = str(fixed.get("currency") or currency)
    elif rate == "NO_FEE":
        price, detail = Decimal(0), "Free"
    elif rate == "VARIED":
        detail = "Price varies: enter it yourself"
    elif rate == "CUSTOM":
        custom = _text((payment.get("custom") or {}).get("description"), 100)
        detail = f"Custom price ({custom}): enter it yourself" if custom else "Custom price"
    return CatalogItem(
        source=f"{BOOKINGS}:{service_id}",
        kind="Service",
        name=_text(service.get("name"), rules.MAX_NAME) or "Service",
        description=_text(service.get("description") or service.get("tagLine"), rules.MAX_TEXT),
        unit_price=price,
        currency=currency,
        detail=detail,
    )


def _read_services(client, currency, query_filter, *, offset, limit, deadline):
    query_filter = {"hidden": {"$eq": False}, **query_filter}
    answer = client.query_services(query_filter, offset=offset, limit=limit, deadline=deadline)
    services = [s for s in answer.get("services") or [] if isinstance(s, dict)]
    meta = answer.get("pagingMetadata") or {}
    has_next = meta.get("hasNext")
    if not isinstance(has_next, bool):
        has_next = len(services) == limit
    items = [item for s in services if (item := _service_item(s, currency)) is not None]
    return items, has_next


PARTS = (
    _Part(STORES, "Wix Stores", "products", _read_products),
    _Part(BOOKINGS, "Wix Bookings", "services", _read_services),
)


def _why(part: _Part, exc: WixError) -> str:
    """What the business reads when a part of its catalog can't be listed."""
    if exc.permanent and exc.status == 403:
        return (
            f"Your Wix site hasn't given this app access to its {part.what}: "
            "approve the app's permissions in your Wix dashboard."
        )
    if exc.permanent and exc.status in (404, 428):
        return f"{part.label} isn't set up on your Wix site" + (
            " (or it uses Wix's newer catalog, not supported yet)."
            if part.source == STORES
            else "."
        )
    if exc.permanent:
        return f"Wix refused to list your {part.what} ({exc.status}). Add items by hand."
    return f"Wix didn't answer in time with your {part.what}. Add items by hand or try again."


class WixCatalog:
    """proposals.catalog's reader for businesses with a Wix site."""

    def serves(self, business) -> bool:
        return bool(business is not None and business.instance_id and business.is_active)

    @staticmethod
    def _cache_key(business, part: _Part, query: str, page: int) -> str:
        digest = hashlib.sha256(query.encode()).hexdigest()[:24]
        return f"wix-catalog:v1:{business.pk}:{part.source}:{digest}:{page}"

    def _read(self, business, part: _Part, query_filter: dict, key: str, *, page, deadline):
        found = cache.get(key)
        if found is not None:
            return found
        client = WixClient.for_business(business)
        size = settings.WIX_CATALOG_PAGE_SIZE
        found = part.read(
            client, business.currency, query_filter,
            offset=page * size, limit=size, deadline=deadline,
        )  # fmt: skip
        cache.set(key, found, settings.WIX_CATALOG_CACHE_SECONDS)
        return found

    def search(self, business, query: str, page: int) -> CatalogPage:
        query = clean_query(query)
        page = max(0, min(page, MAX_PAGE))
        deadline = time.monotonic() + settings.WIX_CATALOG_DEADLINE
        result = CatalogPage(items=[], page=page)
        for part in PARTS:
            key = self._cache_key(business, part, query, page)
            try:
                items, more = self._read(
                    business, part, _name_filter(query), key, page=page, deadline=deadline
                )
            except WixError as exc:
                log.info(
                    "wix_catalog_unavailable",
                    business_id=business.pk,
                    api=part.source,
                    status=exc.status,
                    permanent=exc.permanent,
                )
                result.problems.append(_why(part, exc))
                continue
            result.items.extend(items)
            result.has_next = result.has_next or more
        return result

    def find(self, business, source: str) -> CatalogItem | None:
        kind, _, ref = source.partition(":")
        part = next((p for p in PARTS if p.source == kind), None)
        item_id = ref.split("/", 1)[0]
        if part is None or not _ID.match(item_id):
            return None
        key = self._cache_key(business, part, f"id={item_id}", 0)
        deadline = time.monotonic() + settings.WIX_CATALOG_DEADLINE
        try:
            items, _more = self._read(
                business, part, {"id": {"$eq": item_id}}, key, page=0, deadline=deadline
            )
        except WixError as exc:
            raise CatalogUnavailable(_why(part, exc)) from None
        return next((item for item in items if item.source == source), None)


catalog = WixCatalog()
