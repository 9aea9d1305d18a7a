"""Reads of the support console. Every function issues a fixed number of queries, whatever the
number of rows: lists are sliced, and counts come from one aggregate per table over an index
range, capped at ``COUNT_CAP`` rows (shown as "10000+"): a page view never counts a big
business's 50,000 proposals or a table of millions."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone

from accounts.models import Business, Membership, StaffAction, User
from common.admin_tools import admin_url, search_queryset
from integrations.lifecycle import PLAN_KINDS
from integrations.models import (
    CircuitBreaker,
    IntegrationCall,
    WebhookReceipt,
    WixAccessToken,
    WixInvoice,
)
from proposals.delivery.selectors import delivery_queue_stats
from proposals.models import Activity, Client, Delivery, DeliveryAttempt, Proposal

LIST_LIMIT = 50
COUNT_CAP = 10_000
FAILED_RECEIPT = (WebhookReceipt.Status.REJECTED, WebhookReceipt.Status.FAILED)
INSTALL_EVENTS = ("AppInstalled", "AppRemoved", *PLAN_KINDS, *(f"Paid{k}" for k in PLAN_KINDS))


def _windows(now: datetime) -> tuple[datetime, datetime]:
    return now - timedelta(hours=24), now - timedelta(days=7)


def _capped(queryset, field: str):
    """The newest ``COUNT_CAP`` rows by ``field``: counts over it stop at the cap."""
    return queryset.order_by(f"-{field}")[:COUNT_CAP]


def _counts(queryset, field: str, now: datetime) -> dict:
    day, week = _windows(now)
    return _capped(queryset, field).aggregate(
        day=Count("pk", filter=Q(**{f"{field}__gte": day})),
        week=Count("pk", filter=Q(**{f"{field}__gte": week})),
    )


def business_overview(business: Business, *, now: datetime | None = None) -> dict:
    """Everything the business support page shows, in a bounded number of queries."""
    now = now or timezone.now()
    day, week = _windows(now)
    stuck_before = now - timedelta(seconds=settings.SUPPORT_STUCK_DELIVERY_SECONDS)
    receipts = WebhookReceipt.objects.filter(
        Q(business=business) | Q(instance_id=business.instance_id)
    )
    failed_deliveries = Delivery.objects.filter(
        business=business, state__in=Delivery.FAILED_STATES, updated_at__gte=week
    )
    failed_receipts = receipts.filter(status__in=FAILED_RECEIPT, last_received_at__gte=week)
    failed_calls = IntegrationCall.objects.filter(business=business, ok=False, created_at__gte=week)
    stuck = Delivery.objects.filter(
        business=business, state__in=Delivery.STUCK_STATES, updated_at__lt=stuck_before
    )
    return {
        "business": business,
        "now": now,
        "day": day,
        "week": week,
        "members": list(
            Membership.objects.filter(business=business)
            .select_related("user")
            .order_by("role", "user__email")[:LIST_LIMIT]
        ),
        "proposals": list(
            Proposal.objects.filter(business=business)
            .select_related("client")
            .order_by("-created_at", "-pk")[:20]
        ),
        "proposal_count": _capped(Proposal.objects.filter(business=business), "created_at").count(),
        "install_history": list(
            receipts.filter(event_type__in=INSTALL_EVENTS).order_by("-received_at")[:20]
        ),
        "failed_deliveries": list(
            failed_deliveries.select_related("proposal").order_by("-updated_at")[:LIST_LIMIT]
        ),
        "failed_delivery_counts": _counts(failed_deliveries, "updated_at", now),
        "failed_receipts": list(failed_receipts.order_by("-last_received_at")[:LIST_LIMIT]),
        "failed_receipt_counts": _counts(failed_receipts, "last_received_at", now),
        "failed_calls": list(failed_calls.order_by("-created_at")[:LIST_LIMIT]),
        "failed_call_counts": _counts(failed_calls, "created_at", now),
        "stuck": list(stuck.select_related("proposal").order_by("updated_at")[:LIST_LIMIT]),
        # The newest scheduled payments and their Wix invoices (wix_invoice_business_idx).
        "invoices": list(
            WixInvoice.objects.filter(business=business)
            .select_related("proposal")
            .order_by("-id")[:20]
        ),
        "stuck_count": _capped(stuck, "updated_at").count(),
        "queue": delivery_queue_stats(business=business),
        "breakers": list(CircuitBreaker.objects.order_by("api")),
        "token": WixAccessToken.objects.filter(instance_id=business.instance_id)
        .values("expires_at", "refreshed_at")
        .first(),
        "staff_actions": list(
            StaffAction.objects.filter(business=business)
            .select_related("actor")
            .order_by("-created_at", "-pk")[:20]
        ),
        "stuck_threshold_minutes": settings.SUPPORT_STUCK_DELIVERY_SECONDS // 60,
        "count_cap": COUNT_CAP,
    }


# --- search --------------------------------------------------------------------------------
# Each compared the way its index holds it (common.admin_tools.search_condition): lower(email),
# exact ids and tokens, a prefix of lower(site name / URL) — never UPPER(), never a substring.
BUSINESS_SEARCH = ["=instance_id", "=owner_email", "^site_name", "^site_url"]
PROPOSAL_SEARCH = ["=number", "=client__email", "=versions__token"]


@dataclass
class TimelineEntry:
    at: datetime | None
    kind: str
    summary: str
    url: str
    business: Business | None = None


def request_timeline(request_id: str) -> list[TimelineEntry]:
    """Every record carrying this request id, oldest first: web → task → Wix, in one list."""
    entries: list[TimelineEntry] = []
    for activity in Activity.objects.filter(request_id=request_id).select_related(
        "proposal", "business"
    )[:LIST_LIMIT]:
        entries.append(
            TimelineEntry(
                activity.created_at,
                "activity",
                f"{activity.get_kind_display()} on {activity.proposal}",
                admin_url(activity),
                activity.business,
            )
        )
    for delivery in Delivery.objects.filter(request_id=request_id).select_related("business")[
        :LIST_LIMIT
    ]:
        entries.append(
            TimelineEntry(
                delivery.created_at,
                "delivery",
                f"#{delivery.pk} {delivery.get_kind_display()} → {delivery.recipient}: "
                f"{delivery.get_state_display()} {delivery.last_error}".strip(),
                admin_url(delivery),
                delivery.business,
            )
        )
    for attempt in DeliveryAttempt.objects.filter(request_id=request_id).select_related(
        "delivery__business"
    )[:LIST_LIMIT]:
        entries.append(
            TimelineEntry(
                attempt.started_at,
                "delivery attempt",
                f"delivery #{attempt.delivery_id} attempt {attempt.number}: "
                f"{attempt.get_outcome_display()} {attempt.error}".strip(),
                admin_url(attempt),
                attempt.delivery.business,
            )
        )
    for receipt in WebhookReceipt.objects.filter(request_id=request_id).select_related("business")[
        :LIST_LIMIT
    ]:
        entries.append(
            TimelineEntry(
                receipt.received_at,
                "webhook",
                f"{receipt.event_type or 'webhook'}: {receipt.get_status_display()} "
                f"{receipt.rejected_reason or receipt.last_error}".strip(),
                admin_url(receipt),
                receipt.business,
            )
        )
    for call in IntegrationCall.objects.filter(request_id=request_id).select_related("business")[
        :LIST_LIMIT
    ]:
        entries.append(
            TimelineEntry(
                call.created_at,
                "Wix call",
                f"{call.method} {call.endpoint} → {call.status or '–'} "
                f"({call.duration_ms} ms, attempt {call.attempt}) {call.error}".strip(),
                admin_url(call),
                call.business,
            )
        )
    for action in StaffAction.objects.filter(request_id=request_id).select_related("business")[
        :LIST_LIMIT
    ]:
        entries.append(
            TimelineEntry(
                action.created_at,
                "staff action",
                f"{action.actor_email}: {action.action} on {action.target_repr} → "
                f"{action.outcome} {action.message}".strip(),
                admin_url(action),
                action.business,
            )
        )
    return sorted(entries, key=lambda e: (e.at is None, e.at or timezone.now()))


def support_search(query: str) -> dict:
    """Find businesses, proposals, clients and users by anything a business can tell support."""
    q = query.strip()
    results: dict = {"query": q, "businesses": [], "proposals": [], "clients": [], "users": []}
    if len(q) < 3:
        return results
    if "@" in q:
        email = Exact(Lower("email"), q.lower())
        results["clients"] = list(
            Client.objects.filter(email).select_related("business").order_by("-pk")[:LIST_LIMIT]
        )
        results["users"] = list(User.objects.filter(email)[:LIST_LIMIT])
    results["businesses"] = list(
        search_queryset(Business.objects.all(), BUSINESS_SEARCH, q).order_by("-pk")[:LIST_LIMIT]
    )
    results["proposals"] = list(
        search_queryset(Proposal.objects.all(), PROPOSAL_SEARCH, q)
        .select_related("business", "client")
        .order_by("-created_at", "-pk")[:LIST_LIMIT]
    )
    results["timeline"] = request_timeline(q)
    return results


# --- incidents (admin index) ----------------------------------------------------------------
def incidents_overview(*, now: datetime | None = None) -> dict:
    """Failures by kind (last hour, last day), backlog and breakers for the admin index."""
    from common.health import queue_stats
    from common.metrics import tasks_in_flight

    now = now or timezone.now()
    hour, day = now - timedelta(hours=1), now - timedelta(days=1)

    def windowed(queryset, field: str) -> dict:
        return _capped(queryset, field).aggregate(
            hour=Count("pk", filter=Q(**{f"{field}__gte": hour})),
            day=Count("pk", filter=Q(**{f"{field}__gte": day})),
        )

    deliveries = windowed(
        Delivery.objects.filter(state=Delivery.State.FAILED_PERMANENT, updated_at__gte=day),
        "updated_at",
    )
    attempts = windowed(
        DeliveryAttempt.objects.filter(
            outcome__in=(
                DeliveryAttempt.Outcome.TRANSIENT_FAILURE,
                DeliveryAttempt.Outcome.PERMANENT_FAILURE,
                DeliveryAttempt.Outcome.INTERRUPTED,
            ),
            started_at__gte=day,
        ),
        "started_at",
    )
    calls = windowed(IntegrationCall.objects.filter(ok=False, created_at__gte=day), "created_at")
    rejected = windowed(
        WebhookReceipt.objects.filter(status=WebhookReceipt.Status.REJECTED, received_at__gte=day),
        "received_at",
    )
    failed_receipts = windowed(
        WebhookReceipt.objects.filter(status=WebhookReceipt.Status.FAILED, received_at__gte=day),
        "received_at",
    )
    try:
        queue = queue_stats()
        in_flight = tasks_in_flight()
    except Exception:  # the overview must render during the very outage it describes
        queue, in_flight = {"depth": None, "oldest_age_seconds": None}, None
    return {
        "now": now,
        "hour": hour,
        "day": day,
        "rows": [
            (
                "Deliveries failed",
                deliveries,
                "proposals_delivery",
                "state__exact=failed_permanent",
                "updated_at",
            ),
            (
                "Delivery attempts failed",
                attempts,
                "proposals_deliveryattempt",
                "outcome__in=transient_failure,permanent_failure,interrupted",
                "started_at",
            ),
            (
                "Wix calls failed",
                calls,
                "integrations_integrationcall",
                "ok__exact=0",
                "created_at",
            ),
            (
                "Webhooks rejected",
                rejected,
                "integrations_webhookreceipt",
                "status__exact=rejected",
                "received_at",
            ),
            (
                "Webhooks failed",
                failed_receipts,
                "integrations_webhookreceipt",
                "status__exact=failed",
                "received_at",
            ),
        ],
        "deliveries": delivery_queue_stats(),
        "queue": queue,
        "in_flight": in_flight,
        "open_breakers": list(
            CircuitBreaker.objects.exclude(state=CircuitBreaker.State.CLOSED).order_by("api")
        ),
        "stuck_count": _capped(
            Delivery.objects.filter(
                state__in=Delivery.STUCK_STATES,
                updated_at__lt=now - timedelta(seconds=settings.SUPPORT_STUCK_DELIVERY_SECONDS),
            ),
            "updated_at",
        ).count(),
        "count_cap": COUNT_CAP,
        "stuck_before": now - timedelta(seconds=settings.SUPPORT_STUCK_DELIVERY_SECONDS),
    }
