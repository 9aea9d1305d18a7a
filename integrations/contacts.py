"""Upsert a business's clients as Wix contacts, through an outbox row per client.

The row is written in the transaction that sends or accepts the proposal (signal receiver), a
task is enqueued on commit, and the sweeper re-enqueues whatever was lost or is due for retry.
The task claims the row atomically, so two workers never sync the same client at once, and the
upsert (query by email → create → a 409 names the existing contact) never creates a duplicate.
"""

from datetime import timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from common.backoff import full_jitter
from common.request_id import current_request_id
from integrations.models import WixContactSync
from integrations.wix.client import WixClient, WixError

log = structlog.get_logger(__name__)

Status = WixContactSync.Status
MAX_ATTEMPTS = 12
RETRY_CAP_SECONDS = 3600


def claim_lease() -> timedelta:
    return timedelta(seconds=settings.Q_TIMEOUT + 30)


def _enqueue(sync_id: int) -> bool:
    """Queue the sync task. Never raises: a lost enqueue leaves the row for the sweeper."""
    from django_q.tasks import async_task

    try:
        async_task("integrations.tasks.sync_contact", sync_id, task_name="wix-contact-sync")
    except Exception as exc:  # the broker being down must not fail the committed change
        log.warning(
            "wix_contact_sync_enqueue_failed", sync_id=sync_id, error=exc.__class__.__name__
        )
        return False
    return True


def contact_sync_request(*, client, reason: str) -> WixContactSync | None:
    """Record that this client must exist as a Wix contact (inside the change's transaction)."""
    business = client.business
    if not client.email or not business.is_active:
        return None
    sync, created = WixContactSync.objects.get_or_create(
        client=client,
        defaults={
            "business": business,
            "reason": reason,
            "request_id": current_request_id() or "",
        },
    )
    if not created:
        email_changed = sync.status == Status.SYNCED and (
            sync.synced_email.lower() != client.email.lower()
        )
        if sync.status == Status.RUNNING or (sync.status == Status.SYNCED and not email_changed):
            return sync
        # A pending row keeps its schedule; a failed one gets a fresh chance on a new event,
        # and a synced one whose client has a new address is synced again.
        if sync.status in (Status.FAILED, Status.SYNCED):
            WixContactSync.objects.filter(pk=sync.pk, status=sync.status).update(
                status=Status.PENDING,
                attempts=0,
                next_attempt_at=timezone.now(),
                reason=reason,
                error="",
            )
    transaction.on_commit(lambda: _enqueue(sync.pk))
    log.info("wix_contact_sync_requested", client_id=client.pk, reason=reason, created=created)
    return sync


def contact_sync_claim(*, sync_id: int) -> WixContactSync | None:
    now = timezone.now()
    claimable = Q(status=Status.PENDING, next_attempt_at__lte=now) | Q(
        status=Status.RUNNING, claimed_at__lt=now - claim_lease()
    )
    # A row whose last allowed attempt never finished (worker killed) is given up, not re-run.
    exhausted = (
        WixContactSync.objects.filter(pk=sync_id, attempts__gte=MAX_ATTEMPTS)
        .filter(claimable)
        .update(
            status=Status.FAILED,
            claimed_at=None,
            error="gave up: the last allowed attempt did not finish",
        )
    )
    if exhausted:
        log.warning("wix_contact_sync_exhausted", sync_id=sync_id, max_attempts=MAX_ATTEMPTS)
        return None
    claimed = (
        WixContactSync.objects.filter(pk=sync_id, attempts__lt=MAX_ATTEMPTS)
        .filter(claimable)
        .update(status=Status.RUNNING, claimed_at=now, attempts=F("attempts") + 1)
    )
    if not claimed:
        return None
    return WixContactSync.objects.select_related("client", "business").get(pk=sync_id)


def _contact_info(client) -> dict:
    first, _, last = (client.name or "").strip().partition(" ")
    info: dict = {
        "name": {"first": first[:100], "last": last[:100]},
        "emails": {"items": [{"email": client.email.lower(), "tag": "MAIN"}]},
    }
    if client.company:
        info["company"] = client.company[:100]
    return info


def _upsert(wix: WixClient, client) -> str:
    found = wix.query_contacts_by_email(client.email.lower())
    if found:
        return found[0]["id"]
    try:
        return wix.create_contact(_contact_info(client))["id"]
    except WixError as exc:
        # Created by an earlier attempt whose answer was lost, or by someone else.
        duplicate = exc.data.get("duplicateContactId")
        if exc.status == 409 and exc.code == "DUPLICATE_CONTACT_EXIST" and duplicate:
            return str(duplicate)
        raise


def contact_sync_run(*, sync_id: int) -> str:
    sync = contact_sync_claim(sync_id=sync_id)
    if sync is None:
        return "not claimed"
    if not sync.business.is_active:
        return _finish(sync, status=Status.FAILED, error="business uninstalled")
    try:
        contact_id = _upsert(WixClient.for_business(sync.business), sync.client)
    except WixError as exc:
        return _retry_or_fail(
            sync, error=exc.message, permanent=exc.permanent, retry_after=exc.retry_after
        )
    except Exception as exc:  # a bug or a database error must not leave the row RUNNING
        log.exception("wix_contact_sync_crashed", sync_id=sync.pk, client_id=sync.client_id)
        return _retry_or_fail(sync, error=f"{exc.__class__.__name__}: {exc}", permanent=False)
    WixContactSync.objects.filter(pk=sync.pk, status=Status.RUNNING).update(
        status=Status.SYNCED,
        wix_contact_id=contact_id[:64],
        synced_email=sync.client.email.lower(),
        synced_at=timezone.now(),
        claimed_at=None,
        error="",
    )
    log.info("wix_contact_synced", client_id=sync.client_id, attempts=sync.attempts)
    return "synced"


def _retry_or_fail(
    sync: WixContactSync, *, error: str, permanent: bool, retry_after: float | None = None
) -> str:
    if permanent or sync.attempts >= MAX_ATTEMPTS:
        return _finish(sync, status=Status.FAILED, error=error)
    # Full jitter on a capped exponential; never before Wix said we may come back.
    delay = full_jitter(sync.attempts, base=30, cap=RETRY_CAP_SECONDS)
    delay = min(max(delay, retry_after or 0, 1.0), RETRY_CAP_SECONDS)
    return _finish(
        sync,
        status=Status.PENDING,
        error=error,
        next_attempt_at=timezone.now() + timedelta(seconds=delay),
    )


def _finish(sync: WixContactSync, *, status: str, error: str, next_attempt_at=None) -> str:
    updates = {"status": status, "claimed_at": None, "error": error[:500]}
    if next_attempt_at is not None:
        updates["next_attempt_at"] = next_attempt_at
    WixContactSync.objects.filter(pk=sync.pk, status=Status.RUNNING).update(**updates)
    log.warning(
        "wix_contact_sync_failed",
        client_id=sync.client_id,
        error=error,
        attempts=sync.attempts,
        will_retry=status == Status.PENDING,
    )
    return "failed" if status == Status.FAILED else "retry"


def contact_sync_sweep(*, now=None) -> int:
    """Re-enqueue syncs that are due (retry time reached, enqueue lost, or worker died).

    One read (served by the ``status, next_attempt_at`` index: synced and failed rows, nearly
    all of the table, are never touched) and one bulk enqueue, whatever the number of rows.
    """
    from common.queue import enqueue_many

    now = now or timezone.now()
    due = list(
        WixContactSync.objects.filter(
            Q(status=Status.PENDING, next_attempt_at__lte=now, attempts__gt=0)
            | Q(status=Status.PENDING, attempts=0, created_at__lt=now - timedelta(seconds=60))
            | Q(status=Status.RUNNING, claimed_at__lt=now - claim_lease())
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )
    try:
        count = enqueue_many(
            "integrations.tasks.sync_contact", [(pk,) for pk in due], task_name="wix-contact-sync"
        )
    except Exception as exc:  # the broker being down: the rows stay due for the next sweep
        log.warning("wix_contact_sync_enqueue_failed", count=len(due), error=exc.__class__.__name__)
        return 0
    if count:
        log.info("wix_contact_sync_sweep", enqueued=count)
    return count
