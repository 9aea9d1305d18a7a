"""Dashboard: a proposal's page and its actions (send, withdraw, …); the list is in
``proposal_list``."""

from decimal import Decimal

import structlog
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.http import MemberRequest
from proposals import rules, selectors, services
from proposals.delivery import services as delivery_services
from proposals.delivery import suppressions
from proposals.forms import SendForm
from proposals.models import Delivery, Proposal
from proposals.templatetags.proposal_tags import money, plain_number
from proposals.views._helpers import business_required, preview_snapshot, public_items, upgrade_url

log = structlog.get_logger(__name__)


def _error_text(exc: Exception) -> str:
    if isinstance(exc, services.ProposalError):
        return exc.message
    if isinstance(exc, ValidationError):
        return " ".join(exc.messages)
    return str(exc)


@require_safe
@business_required
def proposal_detail(request: MemberRequest, pk: int) -> HttpResponse:
    proposal = selectors.proposal_get(business=request.business, pk=pk, with_sender=True)
    context = selectors.proposal_detail_context(proposal=proposal)
    # The page shows the month's usage only beside a draft's first send.
    allowance = (
        selectors.send_allowance(business=request.business)
        if proposal.status == Proposal.Status.DRAFT
        else None
    )
    failed = [d for d in context["deliveries"] if d.state in Delivery.SEND_FAILED_STATES]
    bounced = [d for d in context["deliveries"] if d.state == Delivery.State.BOUNCED]
    # A bounce can be sent again once its address is not suppressed (soft, or lifted); only a
    # page with a bounce asks.
    suppressed = (
        suppressions.suppressed_addresses(
            business_id=proposal.business_id, addresses=[d.recipient for d in bounced]
        )
        if bounced
        else set()
    )
    currency = proposal.currency
    acceptance = context["acceptance"]
    if acceptance is not None:
        # Once accepted, the content card is what the client signed: the accepted version,
        # its optional items as the client chose them, and that total.
        accepted = selectors.accepted_content(acceptance=acceptance)
        snapshot = acceptance.version.snapshot
        context["totals"] = accepted.totals
        texts = {"intro": snapshot.get("intro", ""), "terms": snapshot.get("terms", "")}
        rows = [
            {
                "title": section["title"],
                "items": [
                    _item_row(item, item["line"], currency, chosen=item["checked"])
                    for item in section["items"]
                ],
            }
            for section in accepted.sections
        ]
    else:
        lines = {line.key: line for line in context["totals"].lines}
        rows = [
            {
                "title": section["title"],
                "items": [
                    _item_row(item, lines.get(str(item["id"])), currency)
                    for item in section["items"]
                ],
            }
            for section in context["sections"]
        ]
        texts = {"intro": proposal.intro, "terms": proposal.terms}
    return render(
        request,
        "proposals/detail.html",
        {
            "proposal": proposal,
            **context,
            "rows": rows,
            **texts,
            "failed_delivery_ids": {d.pk for d in failed},
            "can_edit": proposal.status in services.EDITABLE,
            "can_send": proposal.status in services.EDITABLE,
            "can_withdraw": proposal.is_open,
            "can_delete": proposal.status == Proposal.Status.DRAFT
            and proposal.current_version_id is None,
            "failed_deliveries": failed,
            "resendable_bounce_ids": {
                d.pk for d in bounced if suppressions.normalise(d.recipient) not in suppressed
            },
            "sends_used": allowance.used if allowance else None,
            "sends_limit": allowance.limit if allowance else None,
            "limit_reached": bool(allowance and allowance.reached),
            "upgrade_url": upgrade_url(request.business) if allowance and allowance.reached else "",
        },
    )


def _item_row(item: dict, line, currency: str, *, chosen: bool | None = None) -> dict:
    """An item's cells on the proposal page, formatted once in Python.

    ``chosen`` is the client's choice of an optional item once accepted (None before: the
    badge then says whether the item is preselected).
    """
    # A sent version's snapshot holds them as strings ("0.00"), the working copy as Decimals.
    discount, tax = Decimal(item["discount_percent"]), Decimal(item["tax_rate"])
    if not item["optional"]:
        badge = ""
    elif chosen is None:
        badge = "Optional, preselected" if item["selected"] else "Optional"
    else:
        badge = "Optional, chosen by the client" if chosen else "Optional, not chosen"
    return {
        "name": item["name"],
        "description": item["description"],
        "optional": item["optional"],
        "badge": badge,
        "left_out": chosen is False,
        "quantity": plain_number(item["quantity"]),
        "unit_price": money(item["unit_price"], currency),
        "discount": f"{plain_number(discount)}%" if discount else "—",
        "tax": f"{plain_number(tax)}%" if tax else "—",
        "total": money(line.total, currency) if line else "",
    }


@require_POST
@business_required
def proposal_send(request: MemberRequest, pk: int) -> HttpResponse:
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    form = SendForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(map(str, form.errors.get("message", ["Check the form."]))))
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
def proposal_withdraw(request: MemberRequest, pk: int) -> HttpResponse:
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
def proposal_delete(request: MemberRequest, pk: int) -> HttpResponse:
    """Delete a draft (the page asks first); a sent proposal is withdrawn, never deleted."""
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    try:
        services.proposal_delete(
            proposal=proposal,
            acting_user=request.user,
            expected_revision=_posted_revision(request),
        )
    except (services.ProposalError, ValidationError) as exc:
        messages.error(request, _error_text(exc))
        return redirect("dashboard:proposal_detail", pk=proposal.pk)
    messages.success(request, f"Draft {proposal.display_number} “{proposal.title}” deleted.")
    return redirect("dashboard:proposal_list")


def _posted_revision(request: HttpRequest) -> int | None:
    """The revision the page showed (a stale page then changes nothing); None if absent."""
    try:
        return int(request.POST["revision"])
    except (KeyError, ValueError):
        return None


@require_POST
@business_required
def proposal_duplicate(request: MemberRequest, pk: int) -> HttpResponse:
    """A new draft from this one, under the title typed in the page's duplicate form."""
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    try:
        copy = services.proposal_duplicate(
            proposal=proposal, acting_user=request.user, title=request.POST.get("title", "")
        )
    except (services.ProposalError, ValidationError) as exc:
        messages.error(request, _error_text(exc))
        return redirect("dashboard:proposal_detail", pk=proposal.pk)
    note = (
        " Its payment schedule was not copied (a due date has passed): set a new one."
        if proposal.payment_schedule and not copy.payment_schedule
        else ""
    )
    messages.success(request, f"Duplicated as {copy.display_number}, a new draft.{note}")
    return redirect("dashboard:proposal_edit", pk=copy.pk)


@require_safe
@business_required
def proposal_preview(request: MemberRequest, pk: int) -> HttpResponse:
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
def delivery_retry(request: MemberRequest, pk: int, delivery_pk: int) -> HttpResponse:
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
