"""Support console pages inside the admin: the business page, search, bulk retry.

Doors only: they read through ``console.selectors`` and act through the audited services of
``proposals.support`` and ``integrations.support``.
"""

from datetime import UTC, datetime, timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.audit import ActionRefused
from accounts.models import Business, StaffAction, User
from common.admin_tools import can_run_support_actions
from common.money import use_locale
from console import selectors
from console.links import business_support_url
from integrations import support as wix_support
from integrations.models import CircuitBreaker, WebhookReceipt, WixInvoice
from proposals import support as proposal_support
from proposals.delivery import selectors as delivery_selectors
from proposals.delivery import suppressions
from proposals.models import Delivery, Proposal, Suppression


class StaffRequest(HttpRequest):
    """A request to these pages: the admin's ``admin_view`` lets only signed-in staff through."""

    user: User


def _context(request: StaffRequest, **extra) -> dict:
    return {
        **admin.site.each_context(request),
        "can_act": can_run_support_actions(request),
        **extra,
    }


def business_support(request: StaffRequest, business_id: int) -> HttpResponse:
    business = get_object_or_404(Business, pk=business_id)
    if not request.user.has_perm("accounts.view_business"):
        raise PermissionDenied
    if request.method == "POST":
        return _business_action(request, business)
    overview = selectors.business_overview(business)
    overview["suppressions"] = delivery_selectors.business_suppressions(business=business)
    response = TemplateResponse(
        request,
        "console/business_support.html",
        _context(request, title=f"Support: {business}", opts=Business._meta, **overview),
    )
    # Amounts as the business writes them, as the admin's lists show them: rendered here, while
    # its locale is bound (a TemplateResponse would render after the view, in the default one).
    with use_locale(business.locale):
        return response.render()


def _run(request: StaffRequest, action, **kwargs) -> None:
    try:
        action(acting_user=request.user, **kwargs)
    except ActionRefused as exc:
        messages.warning(request, exc.message)
    except Exception as exc:  # audited as "error" already; show it rather than a 500 page
        messages.error(request, f"The action failed: {exc.__class__.__name__}: {exc}")
    else:
        done = StaffAction.objects.filter(actor=request.user).order_by("-pk").first()
        messages.success(request, (done.message if done else "") or "Done.")


def _pk(value: object) -> int:
    """An id from a form or query string; anything else is a 404, not a crash."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        raise Http404("Not found") from None


def _business_action(request: StaffRequest, business: Business) -> HttpResponse:
    if not can_run_support_actions(request):
        raise PermissionDenied
    action = request.POST.get("action", "")
    target = request.POST.get("target", "")
    if action == "retry_delivery":
        delivery = get_object_or_404(Delivery, pk=_pk(target), business=business)
        _run(request, proposal_support.support_delivery_retry, delivery=delivery)
    elif action == "resend_link":
        proposal = get_object_or_404(
            Proposal.objects.select_related("current_version"), pk=_pk(target), business=business
        )
        _run(request, proposal_support.support_proposal_resend_link, proposal=proposal)
    elif action == "replay_webhook":
        receipt = get_object_or_404(WebhookReceipt, pk=_pk(target))
        if receipt.business_id not in (None, business.pk) or (
            receipt.business_id is None and receipt.instance_id != business.instance_id
        ):
            raise PermissionDenied
        _run(request, wix_support.support_webhook_replay, receipt=receipt)
    elif action == "lift_suppression":
        suppression = get_object_or_404(Suppression, pk=_pk(target), business=business)
        _run(
            request,
            suppressions.suppression_lift,
            suppression=suppression,
            note=request.POST.get("note", "")[:500],
        )
    elif action == "retry_invoice":
        invoice = get_object_or_404(WixInvoice, pk=_pk(target), business=business)
        _run(request, wix_support.support_invoice_retry, invoice=invoice)
    elif action == "refresh_token":
        _run(request, wix_support.support_token_refresh, business=business)
    elif action == "reset_breaker":
        circuit = get_object_or_404(CircuitBreaker, pk=_pk(target))
        _run(request, wix_support.support_breaker_reset, circuit=circuit, business=business)
    else:
        messages.error(request, "Unknown action.")
    back = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        back = business_support_url(business.pk)
    return HttpResponseRedirect(back)


def search(request: StaffRequest) -> HttpResponse:
    if not request.user.has_perm("accounts.view_business"):
        raise PermissionDenied
    query = request.GET.get("q", "")
    results = selectors.support_search(query) if query else {"query": ""}
    return TemplateResponse(
        request, "console/search.html", _context(request, title="Support search", **results)
    )


def _parse_when(value: str | None, default: datetime) -> datetime:
    try:
        parsed = parse_datetime(value or "")
    except ValueError:  # well-formed but impossible, e.g. month 13
        parsed = None
    if parsed is None:
        return default
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def bulk_retry(request: StaffRequest) -> HttpResponse:
    """Retry every failed delivery of a time window: a confirmation page that says how many."""
    if not can_run_support_actions(request):
        raise PermissionDenied
    now = timezone.now()
    data = request.POST if request.method == "POST" else request.GET
    since = _parse_when(data.get("since"), now - timedelta(hours=1))
    until = _parse_when(data.get("until"), now)
    business = None
    if data.get("business"):
        business = get_object_or_404(Business, pk=_pk(data["business"]))
    if request.method == "POST":
        try:
            expected = int(request.POST.get("expected", "-1"))
        except ValueError:
            expected = -1
        try:
            result = proposal_support.support_deliveries_bulk_retry(
                since=since,
                until=until,
                business=business,
                expected=expected,
                acting_user=request.user,
            )
        except ActionRefused as exc:
            messages.warning(request, exc.message)
        else:
            messages.success(
                request,
                f"{result.retried} of {result.total} failed deliveries queued again"
                + (f"; {result.refused} refused (see the audit log)." if result.refused else "."),
            )
            return HttpResponseRedirect(
                reverse("admin:proposals_delivery_changelist") + "?state__exact=pending"
            )
    preview = proposal_support.bulk_retry_preview(since=since, until=until, business=business)
    return TemplateResponse(
        request,
        "console/bulk_retry.html",
        _context(
            request,
            title="Retry failed deliveries",
            since=since,
            until=until,
            business=business,
            preview=preview,
        ),
    )
