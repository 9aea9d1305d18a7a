"""Addresses a business no longer emails: added by a hard bounce or a spam complaint.

A suppression belongs to one business (a bounce in business A never blocks business B). A
delivery to a suppressed address fails at once with the reason, without reaching the mail
server; support lifts a suppression from the admin, and the lift is audited.
"""

from collections.abc import Iterable

import structlog
from django.utils import timezone

from accounts.audit import ActionRefused, audited
from proposals.delivery.rows import insert_once
from proposals.models import Delivery, Suppression

log = structlog.get_logger(__name__)


def normalise(address: str) -> str:
    return (address or "").strip().lower()


def _active(*, business_ids, addresses):
    # Unordered: the active-suppression unique index answers it (the default order would
    # walk the table by date).
    return (
        Suppression.objects.filter(
            lifted_at__isnull=True, business_id__in=business_ids, address__in=addresses
        )
        .only("id", "business_id", "address", "reason", "created_at")
        .order_by()
    )


def suppressed_for(deliveries: Iterable[Delivery]) -> dict[tuple[int, str], Suppression]:
    """The active suppressions that block any of ``deliveries``: one query for a batch.

    Look a delivery up with ``blocking``.
    """
    wanted = {(d.business_id, normalise(d.recipient)) for d in deliveries}
    if not wanted:
        return {}
    rows = _active(
        business_ids={business_id for business_id, _ in wanted},
        addresses={address for _, address in wanted},
    )
    return {
        (row.business_id, row.address): row
        for row in rows
        if (row.business_id, row.address) in wanted
    }


def blocking(
    suppressed: dict[tuple[int, str], Suppression], delivery: Delivery
) -> Suppression | None:
    """The suppression among ``suppressed`` (from ``suppressed_for``) that blocks ``delivery``."""
    return suppressed.get((delivery.business_id, normalise(delivery.recipient)))


def suppressed_addresses(*, business_id: int, addresses: Iterable[str]) -> set[str]:
    """Which of ``addresses`` this business may not email (one query; none for no address)."""
    wanted = {normalise(address) for address in addresses}
    if not wanted:
        return set()
    return set(
        _active(business_ids=[business_id], addresses=wanted).values_list("address", flat=True)
    )


def suppression_reason(suppression: Suppression) -> str:
    """What the business reads on the failed delivery."""
    why = "it bounced" if suppression.reason == Suppression.Reason.BOUNCED else "of a complaint"
    return (
        f"address suppressed since {suppression.created_at:%Y-%m-%d} because {why}; "
        "support can lift it"
    )


def suppression_add(*, delivery: Delivery, reason: str, detail: str = "") -> bool:
    """Suppress the delivery's recipient for its business; True if it was not already.

    An active suppression of the address is kept as it is (one per business and address).
    """
    suppression = Suppression(
        business_id=delivery.business_id,
        address=normalise(delivery.recipient),
        reason=reason,
        detail=detail[:500],
        delivery_id=delivery.pk,
    )
    if not insert_once(suppression):
        return False
    log.info(
        "address_suppressed",
        suppression_id=suppression.pk,
        business_id=delivery.business_id,
        delivery_id=delivery.pk,
        reason=reason,
    )
    return True


def suppression_lift(*, suppression: Suppression, acting_user, note: str = "") -> Suppression:
    """Let the business email this address again (support action, audited).

    Raises ``ActionRefused`` when the suppression was already lifted. Run outside a
    transaction: the audit row is written even when the lift is refused.
    """
    with audited(
        actor=acting_user,
        action="suppression_lift",
        target=suppression,
        business=suppression.business,
    ) as entry:
        now = timezone.now()
        lifted = Suppression.objects.filter(pk=suppression.pk, lifted_at__isnull=True).update(
            lifted_at=now,
            lifted_by=acting_user if getattr(acting_user, "pk", None) else None,
            lift_note=note[:500],
        )
        if not lifted:
            raise ActionRefused("This suppression was already lifted.", code="already_lifted")
        entry.message = "address can be emailed again"
        entry.details = {"reason": suppression.reason, "delivery_id": suppression.delivery_id}
    log.info(
        "suppression_lifted",
        suppression_id=suppression.pk,
        business_id=suppression.business_id,
        acting_user_id=getattr(acting_user, "pk", None),
    )
    suppression.refresh_from_db()
    return suppression
