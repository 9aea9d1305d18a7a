"""Support actions on deliveries and proposals: each one audited, each one safe to click twice.

Views and admin actions call these; they never touch the delivery pipeline's rows themselves.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import Count, QuerySet

from accounts.audit import ActionRefused, audited
from accounts.models import Business, User
from proposals.delivery import services as delivery_services
from proposals.models import Delivery, Proposal

log = structlog.get_logger(__name__)

# What support reads when the pipeline refuses a retry, where it says more than the pipeline.
_REFUSALS = {
    "already_sent": "This email was already sent; retrying would send it twice. "
    "Use “resend the proposal link” to send a new email.",
}


def support_delivery_retry(*, delivery: Delivery, acting_user: User) -> Delivery:
    """Send a failed or bounced delivery again now. Refuses (audited) what the pipeline refuses:
    a sent or cancelled one, one being sent, one to a still-suppressed address."""
    with audited(actor=acting_user, action="delivery_retry", target=delivery) as entry:
        entry.details["previous_state"] = delivery.state
        try:
            delivery = delivery_services.delivery_retry(delivery=delivery, acting_user=acting_user)
        except delivery_services.DeliveryRetryError as exc:
            raise ActionRefused(_REFUSALS.get(exc.code, str(exc)), code=exc.code) from None
        entry.message = "Queued for sending now (fresh round of attempts)."
    return delivery


def support_proposal_resend_link(*, proposal: Proposal, acting_user: User) -> Delivery:
    """Email the client the link of the version they can see, as a new delivery."""
    with audited(actor=acting_user, action="proposal_resend_link", target=proposal) as entry:
        version = proposal.current_version
        if version is None:
            raise ActionRefused(
                "This proposal was never sent: there is no link.", code="never_sent"
            )
        if proposal.status not in Proposal.OPEN_STATUSES:
            raise ActionRefused(
                f"The proposal is {proposal.get_status_display().lower()}: "
                "its link is no longer open for an answer.",
                code="not_open",
            )
        if version.token_revoked_at is not None:
            raise ActionRefused("The client link was revoked.", code="link_revoked")
        business = Business.objects.get(pk=proposal.business_id)
        if not business.is_active:
            raise ActionRefused("The app is uninstalled for this site.", code="uninstalled")
        with transaction.atomic():
            delivery = delivery_services.delivery_record(
                business=business,
                kind=Delivery.Kind.PROPOSAL,
                recipient=version.recipient_email,
                # A fresh key: this is deliberately a second email, not a retry of the first.
                idempotency_key=f"proposal:{version.pk}:resend:{uuid.uuid4().hex}",
                proposal=proposal,
                version=version,
                context={"message": version.message, "resent_by_support": True},
            )
        entry.details.update(delivery_id=delivery.pk, version=version.number)
        entry.message = f"New delivery #{delivery.pk} of version {version.number} recorded."
    return delivery


def failed_deliveries_in_window(
    *, since: datetime, until: datetime, business: Business | None = None
) -> QuerySet:
    """Deliveries the mail server never took (what an outage leaves) whose last change, the
    failure, falls in [since, until). Bounces are retried one by one, once their address is
    lifted."""
    queryset = Delivery.objects.filter(
        state__in=Delivery.SEND_FAILED_STATES, updated_at__gte=since, updated_at__lt=until
    )
    if business is not None:
        queryset = queryset.filter(business=business)
    return queryset


def bulk_retry_preview(
    *, since: datetime, until: datetime, business: Business | None = None
) -> dict:
    """How many deliveries a bulk retry would touch, by kind and business (for the confirm page)."""
    queryset = failed_deliveries_in_window(since=since, until=until, business=business)
    by_kind = dict(
        queryset.order_by().values_list("kind").annotate(n=Count("pk")).values_list("kind", "n")
    )
    return {
        "total": sum(by_kind.values()),
        "by_kind": by_kind,
        "businesses": queryset.order_by().values("business").distinct().count(),
        "limit": settings.SUPPORT_BULK_RETRY_MAX,
    }


@dataclass
class BulkRetryResult:
    retried: int
    refused: int
    total: int


def support_deliveries_bulk_retry(
    *,
    since: datetime,
    until: datetime,
    acting_user: User,
    expected: int,
    business: Business | None = None,
) -> BulkRetryResult:
    """Retry every failed delivery in the window (after an outage), each audited on its own.

    ``expected`` is the count the confirmation page showed; a different count now means the
    situation changed under the staff member, and the bulk action is refused.
    """
    with audited(
        actor=acting_user, action="deliveries_bulk_retry", target=business, business=business
    ) as entry:
        entry.details.update(since=since.isoformat(), until=until.isoformat(), expected=expected)
        ids = list(
            failed_deliveries_in_window(since=since, until=until, business=business)
            .order_by("pk")
            .values_list("pk", flat=True)[: settings.SUPPORT_BULK_RETRY_MAX + 1]
        )
        if len(ids) > settings.SUPPORT_BULK_RETRY_MAX:
            raise ActionRefused(
                f"More than {settings.SUPPORT_BULK_RETRY_MAX} deliveries: narrow the window.",
                code="too_many",
            )
        if len(ids) != expected:
            raise ActionRefused(
                f"The window now holds {len(ids)} failed deliveries, not {expected}: "
                "review the new count and confirm again.",
                code="count_changed",
            )
        retried = refused = 0
        for delivery in Delivery.objects.filter(pk__in=ids).order_by("pk").iterator():
            try:
                support_delivery_retry(delivery=delivery, acting_user=acting_user)
            except ActionRefused:
                refused += 1
            else:
                retried += 1
        entry.details.update(retried=retried, refused=refused)
        entry.message = f"{retried} of {len(ids)} failed deliveries queued again."
    log.info("deliveries_bulk_retried", retried=retried, refused=refused, total=len(ids))
    return BulkRetryResult(retried=retried, refused=refused, total=len(ids))
