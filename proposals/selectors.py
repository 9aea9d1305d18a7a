"""Reads for proposals shared by the dashboard, the client page, the API and the admin.

Every function takes the business it reads for; a foreign id answers 404.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import BigIntegerField, Count, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Cast, Lower
from django.http import Http404
from django.utils import timezone

from accounts.models import Business
from accounts.scoping import get_for_business_or_404, scoped
from common.compiled import CompiledRead
from common.money import Totals, compute_totals
from proposals import rules
from proposals.models import (
    Acceptance,
    Activity,
    Client,
    Delivery,
    LineItem,
    Proposal,
    ProposalSettings,
    ProposalTemplate,
    ProposalVersion,
    Section,
)
from proposals.services import send_limit_for, sends_this_month, working_copy_sections

MAX_SEARCH = 200


def proposal_list(
    *,
    business: Business,
    status: str | None = None,
    client_id: int | str | None = None,
    search: str | None = None,
) -> QuerySet[Proposal]:
    """A business's proposals, newest first (``-created_at, -pk``: keyset pages rely on it).

    The current version comes along for its number only: its snapshot (the whole frozen
    content) is left in the database.
    """
    queryset = (
        scoped(Proposal, business)
        .select_related("client", "current_version")
        .defer("current_version__snapshot")
    )
    if status:
        queryset = queryset.filter(status=status)
    if client_id:
        try:
            queryset = queryset.filter(client_id=int(client_id))
        except (TypeError, ValueError):
            queryset = queryset.none()
    if search:
        queryset = queryset.filter(_proposal_search(business=business, search=search))
    return queryset.order_by("-created_at", "-pk")


# What a row of the dashboard's list shows; ``pk`` and ``created_at`` are the keyset's key.
DASHBOARD_ROW_FIELDS = (
    "number",
    "title",
    "status",
    "currency",
    "total",
    "has_unsent_changes",
    "created_at",
    "sent_at",
    "viewed_at",
    "client__name",
    "client__company",
)


def dashboard_proposal_list(
    *,
    business: Business,
    status: str | None = None,
    client_id: int | str | None = None,
    search: str | None = None,
) -> QuerySet[Proposal]:
    """``proposal_list`` with only the columns a dashboard row shows, and its client's name.

    The busiest page of the dashboard reads 26 rows per visit: the rest of each row (its
    texts, its dozen timestamps, the current version) is neither fetched nor parsed.
    """
    return (
        proposal_list(business=business, status=status, client_id=client_id, search=search)
        .select_related(None)
        .select_related("client")
        .only(*DASHBOARD_ROW_FIELDS)
    )


# What the API prints of a proposal (proposals.api.representations), as ``values()`` keys.
API_PROPOSAL_VALUES = (
    "id",
    "number",
    "title",
    "status",
    "currency",
    "total",
    "valid_until",
    "revision",
    "has_unsent_changes",
    "created_at",
    "updated_at",
    "sent_at",
    "viewed_at",
    "answered_at",
    "expired_at",
    "withdrawn_at",
    "client_id",
    "client__name",
    "client__email",
    "client__company",
    "current_version__number",
)
API_PROPOSAL_DETAIL_VALUES = (*API_PROPOSAL_VALUES, "intro", "terms", "decline_reason")


def api_proposal_list(
    *,
    business: Business,
    status: str | None = None,
    client_id: int | str | None = None,
    search: str | None = None,
) -> QuerySet:
    """``proposal_list`` as rows of the columns an API list prints (``values()`` dicts).

    The texts (intro, terms: HTML of any length) and the current version's token, message
    and hashes stay in the database, and no model object is built per row.
    """
    found = proposal_list(business=business, status=status, client_id=client_id, search=search)
    return found.values(*API_PROPOSAL_VALUES)


_API_PROPOSAL_ROW = CompiledRead(
    lambda business_id, pk: (
        Proposal.objects.filter(business_id=business_id, pk=pk)
        .order_by()
        .values_list(*API_PROPOSAL_DETAIL_VALUES)[:1]
    ),
    "business_id",
    "pk",
)


def api_proposal_row(*, business: Business, pk: int) -> dict:
    """One of the business's proposals as the API prints it (a ``values()`` dict); 404 if not.

    Its SQL is built once per process (common.compiled): the API reads this on every detail.
    """
    if business is None or business.pk is None:
        raise Http404("Not found")
    rows = _API_PROPOSAL_ROW.rows(business_id=business.pk, pk=int(pk))
    if not rows:
        raise Http404("Not found")
    return dict(zip(API_PROPOSAL_DETAIL_VALUES, rows[0], strict=True))


# A search matching at most this many clients names them in the query (``client_id IN (1, 2,
# …)``), answered through the (business, client) index: only those clients' proposals are read.
# Beyond it the matches are common, and the newest-first scan checks each row's own client
# (already joined for the row): it meets a page of matches after a few hundred rows.
SEARCH_CLIENT_IDS = 50


def _proposal_search(*, business: Business, search: str) -> Q:
    """Title, number (P-0042 or 42), or the client's name, email or company.

    One bounded query first looks for matching clients among the business's own: the
    ``(business, name, email, company)`` trigram index (migration 0009) intersects the
    business with the term, so a term that matches no client reads no client row. Then every
    alternative can be answered by an index: the title by its trigram index, the clients by
    (business, client), the number by (business, number) — so a search that matches nothing
    reads no proposal rows at all.
    """
    term = search.strip()[:MAX_SEARCH]
    client_ids = list(
        Client.objects.filter(
            # bigint to bigint: the trigram index's business column (btree_gin) is used only
            # for an operator of its own type, and a bare 8126 is an integer.
            business_id=Cast(Value(business.pk), BigIntegerField()),
        )
        .filter(Q(name__icontains=term) | Q(email__icontains=term) | Q(company__icontains=term))
        .order_by()
        .values_list("pk", flat=True)[: SEARCH_CLIENT_IDS + 1]
    )
    condition = Q(title__icontains=term)
    if len(client_ids) > SEARCH_CLIENT_IDS:
        condition |= (
            Q(client__name__icontains=term)
            | Q(client__email__icontains=term)
            | Q(client__company__icontains=term)
        )
    elif client_ids:
        condition |= Q(client_id__in=client_ids)
    number = term.upper().removeprefix("P-")
    if number.isascii() and number.isdigit() and len(number) <= 9:
        condition |= Q(number=int(number))
    return condition


def proposal_get(*, business: Business, pk: object, with_sender: bool = False) -> Proposal:
    """One of the business's proposals (404 otherwise), with its client and current version.

    The version's snapshot (the frozen content, parsed from JSON) stays in the database until
    something reads it; the business is the caller's own object, not joined again.
    ``with_sender`` joins the current version's sender too (the proposal page shows it).
    """
    related = ("client", "current_version", "current_version__sent_by")
    proposal = get_for_business_or_404(
        Proposal.objects.select_related(*related[: 3 if with_sender else 2]).defer(
            "current_version__snapshot"
        ),
        business,
        pk=pk,
    )
    proposal.business = business
    return proposal


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


def proposal_totals(*, proposal: Proposal) -> Totals:
    items = [item for section in working_copy_sections(proposal) for item in section["items"]]
    return compute_totals(rules.line_inputs(items), proposal.currency)


def proposal_timeline(*, proposal: Proposal) -> QuerySet[Activity]:
    return (
        Activity.objects.filter(proposal=proposal, business_id=proposal.business_id)
        .select_related("actor_user", "version")
        .order_by("-created_at", "-pk")
    )


def proposal_versions(*, proposal: Proposal) -> QuerySet[ProposalVersion]:
    return ProposalVersion.objects.filter(proposal=proposal).select_related("sent_by")


def proposal_deliveries(*, proposal: Proposal) -> QuerySet[Delivery]:
    return Delivery.objects.filter(proposal=proposal, business_id=proposal.business_id).order_by(
        "-created_at", "-pk"
    )


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


def proposal_acceptance(*, proposal: Proposal) -> Acceptance | None:
    """An accepted proposal's acceptance with its version (the snapshot signed): one query."""
    if proposal.status != Proposal.Status.ACCEPTED:
        return None
    return acceptance_for(business_id=proposal.business_id, proposal_id=proposal.pk)


def acceptance_for(*, business_id: int, proposal_id: int) -> Acceptance | None:
    return (
        Acceptance.objects.filter(proposal_id=proposal_id, business_id=business_id)
        .select_related("version")
        .first()
    )


# What the proposal page shows of an email (and needs to offer a retry).
_PAGE_DELIVERY = ("kind", "recipient", "state", "last_error", "created_at")


def proposal_detail_context(*, proposal: Proposal) -> dict:
    """The dashboard's proposal page: the same few queries however many items or events.

    Sections and items are one query, as plain data (the totals come from the same rows);
    versions and the timeline leave the frozen snapshots in the database (the page shows
    version numbers).
    """
    sections, totals = proposal_content_data(proposal=proposal)
    return {
        "sections": sections,
        "totals": totals,
        "versions": _page_versions(proposal),
        "timeline": list(proposal_timeline(proposal=proposal).defer("version__snapshot")[:200]),
        "deliveries": list(proposal_deliveries(proposal=proposal).only(*_PAGE_DELIVERY)[:50]),
        "acceptance": proposal_acceptance(proposal=proposal),
    }


def _page_versions(proposal: Proposal) -> list[ProposalVersion]:
    """The versions sent, newest first; no query for a draft or a proposal sent once.

    Versions are numbered 1, 2, … as they are sent and the current one is the last sent
    (``proposal_send``), so a current version numbered 1 is the only one. Read with
    ``proposal_get(with_sender=True)``, it carries everything the page shows of it.
    """
    current = proposal.current_version
    if current is None:
        return []
    if current.number == 1:
        return [current]
    return list(proposal_versions(proposal=proposal).defer("snapshot"))


def client_list(*, business: Business, search: str | None = None) -> QuerySet[Client]:
    queryset = scoped(Client, business)
    if search:
        term = search.strip()[:MAX_SEARCH]
        queryset = queryset.filter(
            Q(name__icontains=term) | Q(email__icontains=term) | Q(company__icontains=term)
        )
    return queryset.order_by("name", "pk")


def client_get(*, business: Business, pk: object) -> Client:
    return get_for_business_or_404(Client, business, pk=pk)


CLIENT_SEARCH_LIMIT = 20


def client_search(
    *, business: Business, prefix: str, limit: int = CLIENT_SEARCH_LIMIT
) -> list[Client]:
    """Clients whose name, then whose email, starts with ``prefix`` (any case); at most ``limit``.

    Two bounded range scans, on the ``(business, lower(name))`` and ``(business,
    lower(email))`` indexes, each stopping at ``limit`` rows: a one-letter prefix in a
    business with 12,500 clients reads 2 × ``limit`` index entries, not every client.
    """
    term = prefix.strip().lower()[:MAX_SEARCH]
    if not term or limit <= 0:
        return []
    found: dict[int, Client] = {}
    # Names in the name index's own order (it ends with the id), so the scan stops at the
    # limit; emails by the email index (an address is as good as unique within a business).
    for field, order in (("name", ("key", "pk")), ("email", ("key",))):
        rows = (
            scoped(Client, business)
            .alias(key=Lower(field))
            .filter(_prefix_range("key", term))
            .only("pk", "name", "email", "company")
            .order_by(*order)[:limit]
        )
        for client in rows:
            # Exact in a C / C.UTF-8 collation (code-point order); a linguistic collation may
            # put a few other strings inside the range, and they are dropped here.
            if getattr(client, field).lower().startswith(term):
                found.setdefault(client.pk, client)
    return list(found.values())[:limit]


def _prefix_range(name: str, term: str) -> Q:
    """``name >= 'ada' AND name < 'adb'``: "starts with ada" as a btree index range.

    ``LIKE 'ada%'`` needs a ``C``-collation or pattern-ops index, and added beside the range
    it makes PostgreSQL misjudge how many rows match (it then sorts them all instead of
    reading the index in order up to the limit).
    """
    condition = Q(**{f"{name}__gte": term})
    last = ord(term[-1])
    if last < 0x10FFFF:
        condition &= Q(**{f"{name}__lt": term[:-1] + chr(last + 1)})
    return condition


def template_list(*, business: Business) -> QuerySet[ProposalTemplate]:
    return scoped(ProposalTemplate, business).order_by("name", "pk")


def template_get(*, business: Business, pk: object) -> ProposalTemplate:
    return get_for_business_or_404(ProposalTemplate, business, pk=pk)


def proposal_settings_for(*, business: Business) -> ProposalSettings:
    prefs = ProposalSettings.objects.filter(business=business).first()
    return prefs or ProposalSettings(business=business)


@dataclass(frozen=True)
class Pipeline:
    """The list's summary: open proposals (sent or viewed) and those accepted this month, each
    as a count and an amount per currency (a business may quote in several)."""

    open_count: int
    open_amounts: list[tuple[str, Decimal]]
    accepted_count: int
    accepted_amounts: list[tuple[str, Decimal]]
    month_start: datetime


def pipeline(*, business: Business) -> Pipeline:
    """One query of two grouped reads (UNION ALL), each answered from a partial covering
    index alone (migration 0012): the business's open proposals, and its acceptances since the
    1st of this month in its own time zone. Neither counts the business's other proposals."""
    zone = rules.business_zone(business.timezone)
    now = timezone.now().astimezone(zone)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    Status = Proposal.Status
    opened = _amounts(
        scoped(Proposal, business).filter(status__in=[Status.SENT, Status.VIEWED]), "open"
    )
    accepted = _amounts(
        scoped(Proposal, business).filter(status=Status.ACCEPTED, answered_at__gte=month_start),
        "accepted",
    )
    rows = sorted(opened.union(accepted, all=True))
    return Pipeline(
        open_count=sum(n for kind, _, n, _ in rows if kind == "open"),
        open_amounts=[(currency, amount) for kind, currency, _, amount in rows if kind == "open"],
        accepted_count=sum(n for kind, _, n, _ in rows if kind == "accepted"),
        accepted_amounts=[
            (currency, amount) for kind, currency, _, amount in rows if kind == "accepted"
        ],
        month_start=month_start,
    )


def _amounts(queryset: QuerySet[Proposal], kind: str) -> QuerySet:
    return (
        queryset.order_by()
        .values("currency")
        .annotate(kind=Value(kind), n=Count("pk"), amount=Sum("total"))
        .values_list("kind", "currency", "n", "amount")
    )


def send_usage(*, business: Business) -> tuple[int, int | None]:
    """(first sends this month, the plan's monthly limit or None); the API reports both."""
    return sends_this_month(business), send_limit_for(business)


@dataclass(frozen=True)
class SendAllowance:
    """A limited plan's first sends this month, out of how many it allows."""

    used: int
    limit: int

    @property
    def reached(self) -> bool:
        return self.used >= self.limit


def send_allowance(*, business: Business) -> SendAllowance | None:
    """The month's sends against the plan's limit; None, and nothing counted, without a limit.

    The count reads the partial ``(business, sent_at) WHERE number = 1`` index: a free
    business sends a handful a month, so it is a few index entries.
    """
    limit = send_limit_for(business)
    if limit is None:
        return None
    return SendAllowance(used=sends_this_month(business), limit=limit)


def version_by_token(*, token: str) -> ProposalVersion | None:
    if not token or len(token) > 64:
        return None
    # One query: the token is unique (no ORDER BY), and the business is joined once, through
    # the proposal (the version's own business is the same row).
    version = next(
        iter(
            ProposalVersion.objects.select_related("proposal", "proposal__business")
            .filter(token=token)
            .order_by()[:1]
        ),
        None,
    )
    if version is not None:
        version.business = version.proposal.business
    return version


def public_page_state(*, version: ProposalVersion) -> str:
    """What the client sees for this link: open, or why it cannot be answered."""
    proposal = version.proposal
    business = proposal.business
    Status = Proposal.Status
    if not business.is_active:
        return "unavailable"
    if version.token_revoked_at is not None or proposal.status == Status.WITHDRAWN:
        return "withdrawn"
    if proposal.status == Status.ACCEPTED:
        return "accepted" if proposal.current_version_id == version.pk else "superseded"
    if proposal.status == Status.DECLINED:
        return "declined" if proposal.current_version_id == version.pk else "superseded"
    if proposal.current_version_id != version.pk:
        return "superseded"
    expiry = rules.expires_at(proposal.valid_until, business.timezone)
    if proposal.status == Status.EXPIRED or (expiry is not None and expiry <= timezone.now()):
        return "expired"
    return "open"


def version_totals(*, version: ProposalVersion, selected_keys: set[str] | None = None) -> Totals:
    return rules.snapshot_totals(version.snapshot, selected_keys)


def newer_version_for(*, version: ProposalVersion) -> ProposalVersion | None:
    """The proposal's current version, for the page of an older one to link to.

    Only when it went to the same address: a link holder never reaches a version that was
    sent to someone else (the client's email changed between the sends).
    """
    current_id = version.proposal.current_version_id
    if current_id is None or current_id == version.pk:
        return None
    newer = (
        ProposalVersion.objects.filter(pk=current_id, token_revoked_at__isnull=True)
        .only("pk", "number", "token", "recipient_email", "sent_at")
        .first()
    )
    if newer is None or newer.recipient_email.lower() != version.recipient_email.lower():
        return None
    return newer
