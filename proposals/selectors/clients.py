"""A business's clients: the list, one by id, the editor's prefix search."""

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from accounts.models import Business
from accounts.scoping import get_for_business_or_404, scoped
from proposals import rules
from proposals.models import Client


def client_list(*, business: Business, search: str | None = None) -> QuerySet[Client]:
    queryset = scoped(Client, business)
    if search:
        term = search.strip()[: rules.MAX_SEARCH]
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
    term = prefix.strip().lower()[: rules.MAX_SEARCH]
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
