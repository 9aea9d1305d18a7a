"""The editor's "add from catalog" panel (proposals.catalog), without JavaScript: searching,
paging and adding post the editor back with every row kept, like "add item" does.

Nothing on the page waits for Wix until the business asks: opening the editor reads no catalog.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from proposals import catalog, rules
from proposals.catalog import CatalogPage, CatalogUnavailable

ACTIONS = ("catalog_search", "catalog_add")


@dataclass
class CatalogPanel:
    available: bool
    query: str = ""
    page: int = 0
    section: int = 0  # the section index an added item goes to
    results: CatalogPage | None = None
    error: str = ""
    added: str = ""

    @property
    def previous_page(self) -> int:
        return max(0, self.page - 1)

    @property
    def next_page(self) -> int:
        return self.page + 1


def _number(value: object, default: int = 0) -> int:
    text = str(value or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 4 else default


def idle_panel(request: HttpRequest, editor) -> CatalogPanel:
    """The panel before any search: there when the business has a catalog; adds to the last
    section by default."""
    reader = catalog.reader_for(getattr(request, "business", None))
    return CatalogPanel(available=reader is not None, section=max(0, len(editor.blocks) - 1))


def catalog_action(request: HttpRequest, editor) -> CatalogPanel:
    """Search, page or add from the posted panel; an added item becomes a row of ``editor``
    (an unbound copy of the posted one). Any failure is the panel's ``error``: the rows stay."""
    business = getattr(request, "business", None)
    reader = catalog.reader_for(business)
    post = request.POST
    last_section = max(0, len(editor.blocks) - 1)
    panel = CatalogPanel(
        available=reader is not None,
        query=catalog.clean_query(post.get("catalog_q", "")),
        page=_number(post.get("catalog_search", post.get("catalog_page"))),
        section=min(_number(post.get("catalog_section"), last_section), last_section),
    )
    if reader is None:
        panel.error = "This business has no catalog to add from: add items by hand."
        return panel
    if "catalog_add" in post:
        _add(panel, reader, business, str(post.get("catalog_add", "")), editor)
    panel.results = reader.search(business, panel.query, panel.page)
    return panel


def _add(panel: CatalogPanel, reader, business, source: str, editor) -> None:
    try:
        item = reader.find(business, rules.clean_source(source)) if source else None
    except ValidationError:  # a damaged reference names nothing
        item = None
    except CatalogUnavailable as exc:
        panel.error = exc.message
        return
    if item is None:
        panel.error = "That item is not in your Wix catalog (any more): nothing was added."
    elif editor.item_count() >= rules.MAX_ITEMS:
        panel.error = rules.TOO_MANY_ITEMS
    else:
        editor.add_line(panel.section, item.as_line())
        panel.added = f"Added “{item.name}” to section {panel.section + 1}."
        if item.unit_price is None:
            panel.added += " Enter its price: the catalog has none for it."
