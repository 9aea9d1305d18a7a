"""A proposal's content: the working copy's sections and totals, the snapshot sending
freezes, and what an acceptance signed."""

from dataclasses import dataclass

from django.db.models import Prefetch

from common.compiled import CompiledRead
from common.money import Totals, compute_totals
from proposals import branding, rules
from proposals.models import Acceptance, LineItem, Proposal, ProposalSettings, Section


def proposal_sections(*, proposal: Proposal) -> list[Section]:
    return list(
        Section.objects.filter(proposal=proposal).prefetch_related(
            Prefetch("items", queryset=LineItem.objects.order_by("position", "pk"))
        )
    )


def proposal_content(*, proposal: Proposal) -> tuple[list[Section], Totals]:
    """The working copy's sections (items prefetched) and their totals, read once."""
    sections = proposal_sections(proposal=proposal)
    items = [
        {
            "key": str(item.pk),
            "quantity": item.quantity,
            "unit_price": item.unit_price,
            "discount_percent": item.discount_percent,
            "tax_rate": item.tax_rate,
            "optional": item.optional,
            "selected": item.selected,
        }
        for section in sections
        for item in section.items.all()
    ]
    return sections, compute_totals(rules.line_inputs(items), proposal.currency)


# What the API prints of a line item, in the order of the join below (after the section's id).
CONTENT_ITEM_FIELDS = (
    "id",
    "name",
    "description",
    "quantity",
    "unit_price",
    "discount_percent",
    "tax_rate",
    "optional",
    "selected",
    "source",
)


def proposal_content_data(*, proposal: Proposal) -> tuple[list[dict], Totals]:
    """The working copy as plain data (sections with their items) and its totals: ONE query.

    Sections LEFT JOIN items, in the page's order (a section without items is one row with no
    item); the API's detail prints these dicts, so no model object is built per row.
    """
    return proposal_content_rows(proposal_id=proposal.pk, currency=proposal.currency)


_CONTENT_ROWS = CompiledRead(
    lambda proposal_id: (
        Section.objects.filter(proposal_id=proposal_id)
        .order_by("position", "pk", "items__position", "items__pk")
        .values_list("pk", "title", *(f"items__{name}" for name in CONTENT_ITEM_FIELDS))
    ),
    "proposal_id",
)


def proposal_content_rows(*, proposal_id: int, currency: str) -> tuple[list[dict], Totals]:
    """``proposal_content_data`` for a proposal known by its id and currency (an API row).

    Its SQL is built once per process (common.compiled): every API detail reads it.
    """
    sections: list[dict] = []
    items: list[dict] = []
    section_pk = None
    for section_id, title, *values in _CONTENT_ROWS.rows(proposal_id=proposal_id):
        if section_id != section_pk:
            section_pk = section_id
            sections.append({"title": title, "items": []})
        if values[0] is not None:
            item = dict(zip(CONTENT_ITEM_FIELDS, values, strict=True))
            sections[-1]["items"].append(item)
            items.append({**item, "key": str(item["id"])})
    return sections, compute_totals(rules.line_inputs(items), currency)


def item_dict(item: LineItem) -> dict:
    return {
        "key": str(item.pk) if item.pk else "",
        "name": item.name,
        "description": item.description,
        "quantity": str(item.quantity),
        "unit_price": str(item.unit_price),
        "discount_percent": str(item.discount_percent),
        "tax_rate": str(item.tax_rate),
        "optional": item.optional,
        "selected": item.selected,
        "source": item.source,
    }


def working_copy_sections(proposal: Proposal) -> list[dict]:
    sections = Section.objects.filter(proposal=proposal).prefetch_related("items")
    return [
        {"title": s.title, "items": [item_dict(item) for item in s.items.all()]} for s in sections
    ]


def proposal_totals(*, proposal: Proposal) -> Totals:
    items = [item for section in working_copy_sections(proposal) for item in section["items"]]
    return compute_totals(rules.line_inputs(items), proposal.currency)


def proposal_snapshot(*, proposal: Proposal, sections: list[dict] | None = None) -> dict:
    """Everything the client page shows, as sending freezes it (and the preview renders it)."""
    if sections is None:
        sections = working_copy_sections(proposal)
    prefs = ProposalSettings.objects.filter(business_id=proposal.business_id).first()
    business = proposal.business
    snapshot = {
        "number": proposal.display_number,
        "title": proposal.title,
        "currency": proposal.currency,
        "valid_until": proposal.valid_until.isoformat() if proposal.valid_until else None,
        "intro": proposal.intro,
        "terms": proposal.terms,
        "client": {
            "name": proposal.client.name,
            "email": proposal.client.email,
            "company": proposal.client.company,
        },
        "business": {
            "name": branding.brand_name(
                chosen=prefs.brand_name if prefs else "", site_name=business.site_name
            ),
            "brand_color": prefs.brand_color if prefs else "#116dff",
            "logo": prefs.logo if prefs else "",
            "site_url": business.site_url,
        },
        "sections": sections,
    }
    if proposal.payment_schedule:
        # Frozen with the version (a snapshot without the key has no schedule).
        snapshot["payment_schedule"] = proposal.payment_schedule
    snapshot["totals"] = rules.snapshot_totals(snapshot).as_dict()
    return snapshot


def snapshot_items(snapshot: dict, totals: Totals, selected_keys: set[str] | None) -> list[dict]:
    """A snapshot's sections with each item's computed line and whether it counts (ticked).

    ``selected_keys`` are the optional items chosen (the client's ticks, an acceptance's
    record); None counts the preselected ones, as the proposal was sent.
    """
    lines = {line.key: line for line in totals.lines}
    sections = []
    for section in snapshot.get("sections", []):
        items = []
        for item in section.get("items", []):
            key = str(item.get("key", ""))
            if item.get("optional"):
                checked = (
                    key in selected_keys
                    if selected_keys is not None
                    else bool(item.get("selected"))
                )
            else:
                checked = True
            items.append({**item, "key": key, "line": lines.get(key), "checked": checked})
        sections.append({"title": section.get("title", ""), "items": items})
    return sections


@dataclass(frozen=True)
class AcceptedContent:
    """What the client signed: the accepted version's sections, with each optional item
    marked chosen or not (``checked``), and the totals of exactly that choice."""

    sections: list[dict]
    totals: Totals

    @property
    def chosen_optional(self) -> list[dict]:
        return [i for s in self.sections for i in s["items"] if i.get("optional") and i["checked"]]

    def chosen_ids(self) -> list[dict]:
        """The chosen optional items by the line item id they were sent with, and name."""
        return [{"id": int(item["key"]), "name": item["name"]} for item in self.chosen_optional]


def accepted_content(*, acceptance: Acceptance) -> AcceptedContent:
    """The accepted version's content with the client's choice (reads its snapshot)."""
    snapshot = acceptance.version.snapshot
    selected = {str(key) for key in acceptance.selected_item_keys or []}
    totals = rules.snapshot_totals(snapshot, selected)
    return AcceptedContent(sections=snapshot_items(snapshot, totals, selected), totals=totals)
