"""Lists of a business's proposals (dashboard, API) and one proposal by id."""

from django.db.models import BigIntegerField, Q, QuerySet, Value
from django.db.models.functions import Cast
from django.http import Http404

from accounts.models import Business
from accounts.scoping import get_for_business_or_404, scoped
from common.compiled import CompiledRead
from proposals import rules
from proposals.models import Client, Proposal


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


API_PROPOSAL_DETAIL_VALUES = (
    *API_PROPOSAL_VALUES, "intro", "terms", "decline_reason", "payment_schedule",
)  # fmt: skip


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
    term = search.strip()[: rules.MAX_SEARCH]
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
