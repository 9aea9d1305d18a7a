"""Catalog items a business can copy into a line item ("add from catalog" in the editor).

The catalog lives in the business's Wix site (Stores products, Bookings services): integrations
registers its reader in ``AppConfig.ready()`` (proposals imports no other app). Without one, or
for a business it can't serve, the editor simply has no catalog and works by hand.

A copied line keeps a reference to its item (``LineItem.source``, ``rules.LINE_SOURCES``); its
name, description and price are copied once and are the business's to change.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

# A catalog search: its words, one space apart, at most this long; its pages from 0 to MAX_PAGE.
MAX_QUERY = 100
MAX_PAGE = 99


def clean_query(text: object) -> str:
    """The search as every reader gets it (the editor's panel posts it as typed)."""
    return " ".join(str(text or "").split())[:MAX_QUERY]


@dataclass(frozen=True)
class CatalogItem:
    source: str  # the line item's reference, e.g. "wix-stores:<product id>/<variant id>"
    kind: str  # what the business calls it: "Product", "Service"
    name: str
    description: str = ""
    # None: the catalog has no single price for it (a custom or varied rate): typed by hand.
    unit_price: Decimal | None = None
    currency: str = ""
    detail: str = ""  # e.g. "Size: L", "Price varies"

    def as_line(self) -> dict:
        """What the editor's new row starts with."""
        return {
            "name": self.name,
            "description": self.description,
            "quantity": Decimal(1),
            "unit_price": self.unit_price,
            "source": self.source,
        }


@dataclass
class CatalogPage:
    items: list[CatalogItem]
    page: int = 0
    has_next: bool = False
    # Why a part of the catalog could not be listed ("Wix didn't answer in time …").
    problems: list[str] = field(default_factory=list)


class CatalogUnavailable(Exception):
    """The catalog can't be read now; ``message`` says why, for the business."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Reader(Protocol):
    def serves(self, business) -> bool: ...

    def search(self, business, query: str, page: int) -> CatalogPage: ...

    def find(self, business, source: str) -> CatalogItem | None:
        """The item a line's reference names in this business's catalog, None when it has no
        such item (another site's id included); CatalogUnavailable when it can't be read."""
        ...


_readers: list[Reader] = []


def register_reader(reader: Reader) -> None:
    if reader not in _readers:
        _readers.append(reader)


def reader_for(business) -> Reader | None:
    """The catalog that serves this business, None when it has none."""
    if business is None:
        return None
    return next((reader for reader in _readers if reader.serves(business)), None)
