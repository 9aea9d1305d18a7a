"""Dashboard: the proposal list (filters, keyset pages, the pipeline summary) and the client
box's suggestions."""

from dataclasses import dataclass, field

from django import forms
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.dates import MONTHS, MONTHS_3
from django.views.decorators.http import require_safe

from accounts.http import MemberRequest
from proposals import payments, rules, selectors
from proposals.forms import ProposalFilterForm
from proposals.models import Client
from proposals.templatetags.proposal_tags import money
from proposals.views._helpers import (
    CURSOR_PARAM,
    business_required,
    paginate_keyset,
    query_without,
    upgrade_url,
)

# The list's order; keyset pages follow it, and the (business, [status | client,] -created_at)
# indexes serve it with a LIMIT.
LIST_ORDERING = ("-created_at", "-pk")
CLIENT_CHOICES = 20


@dataclass(frozen=True)
class ClientFilter:
    """The client box of the list's filters, resolved.

    ``client`` is the client the list is filtered by. Typed text that names no single client
    leaves it None with either the few clients it matches (``choices``, to pick one from) or
    none at all (``unmatched``: the list is then empty).
    """

    typed: str = ""
    client: Client | None = None
    choices: list[Client] = field(default_factory=list)
    more: bool = False

    @property
    def unmatched(self) -> bool:
        return bool(self.typed) and self.client is None and not self.choices


def _client_filter(*, business, client_id: int | None, typed: str) -> ClientFilter:
    """The id a search-box pick or a link carries wins while the text still names its client;
    otherwise the text alone: one client if it names exactly one, else a bounded choice."""
    typed = typed.strip()
    if client_id is not None:
        try:
            client = selectors.client_get(business=business, pk=client_id)
        except Http404:
            client = None
        if client is not None and (not typed or typed.casefold() == client.name.casefold()):
            return ClientFilter(typed=client.name, client=client)
    if not typed:
        return ClientFilter()
    matches = selectors.client_search(business=business, prefix=typed, limit=CLIENT_CHOICES + 1)
    folded = typed.casefold()
    exact = [c for c in matches if folded in (c.name.casefold(), c.email.casefold())]
    if len(matches) == 1 or len(exact) == 1:
        client = matches[0] if len(matches) == 1 else exact[0]
        return ClientFilter(typed=client.name, client=client)
    return ClientFilter(
        typed=typed, choices=matches[:CLIENT_CHOICES], more=len(matches) > CLIENT_CHOICES
    )


def _list_rows(proposals: list, payment_lines: dict[int, str] | None = None) -> list[dict]:
    """What each row of the list shows, computed once per row in plain Python.

    The page renders 25 rows on every visit of the busiest page of the dashboard: a URL
    reverse, two date formats and a money filter per row in the template cost more than the
    page's queries, so the row's strings are made here (one reverse per page) and the
    template only writes them out.
    """
    head, _, tail = reverse("dashboard:proposal_detail", args=[_URL_PROBE]).partition(
        str(_URL_PROBE)
    )
    rows = []
    for p in proposals:
        created = timezone.localtime(p.created_at)
        sent_iso, sent = _row_date(p.sent_at)
        viewed_iso, viewed = _row_date(p.viewed_at)
        rows.append(
            {
                "url": f"{head}{p.pk}{tail}",
                "number": p.display_number,
                "title": p.title,
                "unsent": p.has_unsent_changes,
                "client_name": p.client.name,
                "client_company": p.client.company,
                "status": p.status,
                "status_label": p.get_status_display(),
                "payment_line": (payment_lines or {}).get(p.pk, ""),
                "total": money(p.total, p.currency),
                "created_iso": created.isoformat(),
                "created": _day(created),
                "sent_iso": sent_iso,
                "sent": sent,
                "viewed_iso": viewed_iso,
                "viewed": viewed,
            }
        )
    return rows


def _day(moment) -> str:
    return f"{moment.day} {MONTHS_3[moment.month].title()} {moment.year}"


def _row_date(moment) -> tuple[str, str]:
    """(ISO time, "2 Dec 2026") in the business's time zone; ("", "") when it never happened."""
    if moment is None:
        return "", ""
    local = timezone.localtime(moment)
    return local.isoformat(), _day(local)


def _filter_boxes(filters: ProposalFilterForm) -> dict:
    """The search and status boxes as the template writes them: value, options, error.

    ``{% field %}`` renders a widget through Django's form templates (an include per option
    of the status list), which on the busiest page cost more than its queries. The values are
    what the widgets would show: the submitted text as typed, the submitted status selected
    (none when it is not a status, "All statuses" when there is none).
    """
    data = filters.data if filters.is_bound else {}
    errors = filters.errors if filters.is_bound else {}
    status = data.get("status")
    selected = "" if status is None else str(status)
    status_field = filters.fields["status"]
    assert isinstance(status_field, forms.ChoiceField)  # ProposalFilterForm declares it so
    # The stub types the getter as anything the setter takes; Django gives (value, label) pairs.
    status_choices: list[tuple[object, str]] = status_field.choices  # type: ignore[assignment]
    return {
        "search": {"value": data.get("q") or "", "error": " ".join(map(str, errors.get("q", [])))},
        "status": {
            "options": [
                (str(value), label, str(value) == selected) for value, label in status_choices
            ],
            "error": " ".join(map(str, errors.get("status", []))),
        },
    }


_URL_PROBE = 987654321


def _pipeline_box(business) -> dict:
    """The list's summary, formatted: how many open and what they are worth, and the same of
    this month's acceptances (one amount per currency the business quoted in)."""
    pipeline = selectors.pipeline(business=business)

    def worth(amounts) -> str:
        return " + ".join(money(amount, currency) for currency, amount in amounts) or "—"

    return {
        "open_count": pipeline.open_count,
        "open_worth": worth(pipeline.open_amounts),
        "accepted_count": pipeline.accepted_count,
        "accepted_worth": worth(pipeline.accepted_amounts),
        "month": f"{MONTHS[pipeline.month_start.month]} {pipeline.month_start.year}",
    }


@require_safe
@business_required
def proposal_list(request: MemberRequest) -> HttpResponse:
    business = request.business
    filters = ProposalFilterForm(request.GET or None)
    filters.is_valid()  # an invalid value drops that filter only, never the page
    cleaned = getattr(filters, "cleaned_data", {})
    status = cleaned.get("status") or None
    search = cleaned.get("q") or None
    by_client = _client_filter(
        business=business,
        client_id=cleaned.get("client"),
        typed=cleaned.get("client_name") or "",
    )
    proposals = selectors.dashboard_proposal_list(
        business=business,
        status=status,
        client_id=by_client.client.pk if by_client.client else None,
        search=search,
    )
    if by_client.unmatched:
        proposals = proposals.none()
    page = paginate_keyset(request, proposals, ordering=LIST_ORDERING)
    filtered = bool(status or search or by_client.typed)
    allowance = selectors.send_allowance(business=business)
    has_any = bool(page.object_list or filtered)
    return render(
        request,
        "proposals/list.html",
        {
            "page": page,
            "rows": _list_rows(page.object_list, payments.summaries(page.object_list)),
            "boxes": _filter_boxes(filters),
            "client_filter": by_client,
            "filtered": filtered,
            # Only the empty page needs to know whether there is any client at all.
            "has_clients": has_any or selectors.client_list(business=business).exists(),
            "pipeline": _pipeline_box(business) if has_any else None,
            "sends_used": allowance.used if allowance else None,
            "sends_limit": allowance.limit if allowance else None,
            "limit_reached": bool(allowance and allowance.reached),
            "upgrade_url": upgrade_url(business) if allowance and allowance.reached else "",
            "query": query_without(request, CURSOR_PARAM, "page"),
            "choice_query": query_without(request, CURSOR_PARAM, "page", "client", "client_name"),
        },
    )


@require_safe
@business_required
def client_search(request: MemberRequest) -> HttpResponse:
    """The client box's suggestions: at most 20 of the business's clients, as JSON."""
    term = request.GET.get("q", "")
    if len(term) > rules.MAX_SEARCH:
        return JsonResponse({"error": f"Type at most {rules.MAX_SEARCH} characters."}, status=400)
    clients = selectors.client_search(business=request.business, prefix=term)
    response = JsonResponse(
        {
            "results": [
                {"id": c.pk, "name": c.name, "email": c.email, "company": c.company}
                for c in clients
            ]
        }
    )
    response["Cache-Control"] = "private, no-store"
    return response
