"""Dashboard: the proposal list, a proposal's page and its actions (send, withdraw, …)."""

import structlog
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from proposals import rules, selectors, services
from proposals.delivery import services as delivery_services
from proposals.forms import ProposalFilterForm, SendForm
from proposals.models import Delivery
from proposals.views._helpers import (
    business_required,
    paginate,
    preview_snapshot,
    public_items,
)

log = structlog.get_logger(__name__)

RETRYABLE_DELIVERY_STATES = (Delivery.State.FAILED_PERMANENT, Delivery.State.FAILED_RETRYING)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, services.ProposalError):
        return exc.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


@require_GET
@business_required
def proposal_list(request: HttpRequest) -> HttpResponse:
    business = request.business
    clients = list(selectors.client_list(business=business).only("pk", "name"))
    filters = ProposalFilterForm(request.GET or None, clients=clients)
    filters.is_valid()  # an invalid value drops that filter only, never the page
    cleaned = getattr(filters, "cleaned_data", {})
    status = cleaned.get("status") or None
    client_id = cleaned.get("client")
    search = cleaned.get("q") or None
    proposals = selectors.proposal_list(
        business=business, status=status, client_id=client_id, search=search
    )
    page = paginate(request, proposals)
    used, limit = selectors.send_usage(business=business)
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "proposals/list.html",
        {
            "page": page,
            "filters": filters,
            "filtered": bool(status or client_id or search),
            "has_clients": bool(clients),
            "sends_used": used,
            "sends_limit": limit,
            "limit_reached": limit is not None and used >= limit,
            "query": query.urlencode(),
        },
    )


@require_GET
@business_required
def proposal_detail(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    context = selectors.proposal_detail_context(proposal=proposal)
    used, limit = selectors.send_usage(business=request.business)
    failed = [d for d in context["deliveries"] if d.state in RETRYABLE_DELIVERY_STATES]
    lines = {line.key: line for line in context["totals"].lines}
    rows = [
        {
            "section": section,
            "items": [(item, lines.get(str(item.pk))) for item in section.items.all()],
        }
        for section in context["sections"]
    ]
    return render(
        request,
        "proposals/detail.html",
        {
            "proposal": proposal,
            **context,
            "rows": rows,
            "failed_delivery_ids": {d.pk for d in failed},
            "send_form": SendForm(initial={"revision": proposal.revision}),
            "can_edit": proposal.status in services.EDITABLE,
            "can_send": proposal.status in services.EDITABLE,
            "can_withdraw": proposal.is_open,
            "failed_deliveries": failed,
            "sends_used": used,
            "sends_limit": limit,
        },
    )


@require_POST
@business_required
def proposal_send(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    form = SendForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("message", ["Check the form."])))
        return redirect("dashboard:proposal_detail", pk=proposal.pk)
    try:
        version = services.proposal_send(
            proposal=proposal,
            acting_user=request.user,
            message=form.cleaned_data["message"],
            expected_revision=form.cleaned_data["revision"],
        )
    except (services.ProposalError, ValidationError) as exc:
        messages.error(request, f"Not sent: {_error_text(exc)}")
    else:
        what = "Sent" if version.number == 1 else f"Version {version.number} sent"
        messages.success(
            request, f"{what} to {version.recipient_email}. The email goes out in a moment."
        )
    return redirect("dashboard:proposal_detail", pk=proposal.pk)


@require_POST
@business_required
def proposal_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    try:
        services.proposal_withdraw(proposal=proposal, acting_user=request.user)
    except (services.ProposalError, ValidationError) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, "Withdrawn. The client's link no longer works.")
    return redirect("dashboard:proposal_detail", pk=proposal.pk)


@require_POST
@business_required
def proposal_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    try:
        copy = services.proposal_duplicate(proposal=proposal, acting_user=request.user)
    except (services.ProposalError, ValidationError) as exc:
        messages.error(request, _error_text(exc))
        return redirect("dashboard:proposal_detail", pk=proposal.pk)
    messages.success(request, f"Duplicated as {copy.display_number}, a new draft.")
    return redirect("dashboard:proposal_edit", pk=copy.pk)


@require_GET
@business_required
def proposal_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """The client's view of the working copy: no token, no view recorded, no answer forms."""
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    snapshot = preview_snapshot(proposal=proposal)
    selected = _selected_keys(request)
    totals = rules.snapshot_totals(snapshot, selected)
    response = render(
        request,
        "public/proposal.html",
        {
            "preview": True,
            "proposal": proposal,
            "snapshot": snapshot,
            "sections": public_items(snapshot, totals, selected),
            "totals": totals,
            "brand": snapshot["business"],
        },
    )
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _selected_keys(request: HttpRequest) -> set[str] | None:
    if "update_total" not in request.GET:
        return None
    return set(request.GET.getlist("item"))


@require_POST
@business_required
def delivery_retry(request: HttpRequest, pk: int, delivery_pk: int) -> HttpResponse:
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    delivery = selectors.proposal_deliveries(proposal=proposal).filter(pk=delivery_pk).first()
    if delivery is None:
        raise Http404("No such delivery")
    try:
        delivery_services.delivery_retry(delivery=delivery, acting_user=request.user)
    except delivery_services.DeliveryRetryError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Email to {delivery.recipient} queued again.")
    return redirect("dashboard:proposal_detail", pk=proposal.pk)
