"""Upsert a business's clients as Wix contacts, through an outbox row per client.

The row is written in the transaction that sends or accepts the proposal (signal receiver) and
a drain of the ``contact_sync`` kind is requested on commit; the outbox engine (common.outbox)
claims due rows in batches with a lease, takes back rows whose worker died and retries on its
one policy. Two drains never hold the same row, and the upsert (query by email → create → a 409
``DUPLICATE_CONTACT_EXISTS`` names the existing contact, which is adopted) never creates a
duplicate even when an answer was lost.
"""

import time

import structlog
from django.db.models import F
from django.utils import timezone

from common import outbox
from common.outbox.writes import outcomes_written
from common.request_id import current_request_id
from integrations.kinds import (
    CONTACT_SYNC,
    batch_of_wix_work,
    commits_without_waiting,
    write_done,
)
from integrations.models import WixContactSync
from integrations.wix.client import WixClient, WixError
from proposals.client_contacts import client_wix_contacts_record

log = structlog.get_logger(__name__)

Status = WixContactSync.Status


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
            now = timezone.now()
            WixContactSync.objects.filter(pk=sync.pk, status=sync.status).update(
                status=Status.PENDING,
                attempt_count=0,
                next_attempt_at=now,
                retried_at=now,
                reason=reason,
                last_error="",
            )
    outbox.record_on_commit(CONTACT_SYNC)
    log.info("wix_contact_sync_requested", client_id=client.pk, reason=reason, created=created)
    return sync


def contact_syncs_work(batch: outbox.Batch) -> list[WixContactSync]:
    """The kind's work: sync each claimed row; one row's failure never stops the rest.

    Returns the rows not started (the drain's time is up): the engine gives them back. The
    synced rows are written together when the batch ends (``batch_of_wix_work``).
    """
    with batch_of_wix_work(CONTACT_SYNC, _SYNCED_FIELDS) as synced:
        try:
            for index, sync in enumerate(batch.rows):
                if batch.out_of_time():
                    return batch.rows[index:]
                batch.count(_sync_one(sync, synced=synced))
        finally:
            _clients_synced(synced)
    return []


def _clients_synced(synced: list[WixContactSync]) -> None:
    """The clients get the ids of their contacts (what the API shows), before their syncs' rows
    are written: a worker lost in between leaves the rows claimed, to be synced again."""
    contact_ids = {sync.client_id: sync.wix_contact_id for sync in synced}
    outcomes_written(CONTACT_SYNC, lambda: client_wix_contacts_record(contact_ids=contact_ids))


# What a successful sync writes.
_SYNCED_FIELDS = [
    "status",
    "attempt_count",
    "wix_contact_id",
    "synced_email",
    "synced_at",
    "next_attempt_at",
    "claimed_until",
    "last_error",
]


def contact_sync_run(*, sync_id: int) -> str:
    """Sync one row if it is due and nobody holds it (support, tests); returns what happened."""
    rows = outbox.claim(CONTACT_SYNC, limit=1, ids=[sync_id])
    if not rows:
        return "not claimed"
    with commits_without_waiting():
        return _sync_one(rows[0])


def _context(sync: WixContactSync) -> dict:
    """Log (and record Wix calls) under the row's own origin, not the drain task's: a batch
    holds rows of many requests and businesses."""
    context: dict[str, object] = {
        "sync_id": sync.pk,
        "client_id": sync.client_id,
        "business_id": sync.business_id,
    }
    if sync.request_id:
        context["request_id"] = sync.request_id
    return context


def contact_syncs_interrupted(ids: list[int], *, now) -> int:
    """The sweeper took these rows back (their worker died): the attempt they were in counts,
    so a row that kills its worker still runs out of attempts."""
    return WixContactSync.objects.filter(pk__in=ids).update(attempt_count=F("attempt_count") + 1)


def _sync_one(sync: WixContactSync, *, synced: list | None = None) -> str:
    """One claimed row: an attempt at the upsert, written with its outcome in one UPDATE (the
    sweeper counts the attempt of a row whose worker died: ``contact_syncs_interrupted``).

    Given ``synced``, a success is appended there to be written with the batch's others."""
    with structlog.contextvars.bound_contextvars(**_context(sync)):
        if sync.attempt_count >= CONTACT_SYNC.setting("MAX_ATTEMPTS"):
            # The worker running the last allowed attempt died (lease expired): not re-run.
            return _finish(
                sync,
                status=Status.FAILED,
                error="gave up: the last allowed attempt did not finish",
                attempted=False,
            )
        if not sync.business.is_active:
            return _finish(
                sync, status=Status.FAILED, error="business uninstalled", attempted=False
            )
        sync.attempt_count += 1
        started = time.monotonic()
        try:
            contact_id = _upsert(WixClient.for_business(sync.business), sync.client)
        except WixError as exc:
            return _retry_or_fail(
                sync, error=exc.message, permanent=exc.permanent, retry_after=exc.retry_after
            )
        except Exception as exc:  # a bug or a database error must not leave the row RUNNING
            log.exception("wix_contact_sync_crashed")
            return _retry_or_fail(sync, error=f"{exc.__class__.__name__}: {exc}", permanent=False)
        sync.status = Status.SYNCED
        sync.wix_contact_id = contact_id[:64]
        sync.synced_email = sync.client.email.lower()
        sync.synced_at = timezone.now()
        sync.next_attempt_at = sync.claimed_until = None
        sync.last_error = ""
        if synced is None:
            _clients_synced([sync])
        write_done(sync, _SYNCED_FIELDS, done=synced, working_state=Status.RUNNING)
        log.info(
            "wix_contact_synced",
            attempts=sync.attempt_count,
            duration_ms=int((time.monotonic() - started) * 1000),
        )
        return "synced"


def _contact_info(client) -> dict:
    first, _, last = (client.name or "").strip().partition(" ")
    info: dict = {
        "name": {"first": first[:100], "last": last[:100]},
        "emails": {"items": [{"email": client.email.lower(), "tag": "MAIN"}]},
    }
    if client.company:
        info["company"] = client.company[:100]
    return info


# Wix answers a create whose email a contact already has with 409 and this code (older
# documentation and clients spell it without the final S; both are accepted).
DUPLICATE_CONTACT_CODES = frozenset({"DUPLICATE_CONTACT_EXISTS", "DUPLICATE_CONTACT_EXIST"})


def _upsert(wix: WixClient, client) -> str:
    found = wix.query_contacts_by_email(client.email.lower())
    if found:
        return found[0]["id"]
    try:
        return wix.create_contact(_contact_info(client))["id"]
    except WixError as exc:
        duplicate = _duplicate_contact_id(exc)
        if duplicate is None:
            raise
        # Created by an earlier attempt whose answer was lost, or by someone else (or the
        # query missed it): the contact Wix names is adopted, never created twice.
        log.info("wix_contact_adopted", wix_contact_id=duplicate, code=exc.code)
        return duplicate


def _duplicate_contact_id(exc: WixError) -> str | None:
    """The existing contact a refused create names: keyed on the 409 and the id, whichever
    spelling of the code came with them (a 409 naming no contact is not adopted)."""
    duplicate = exc.data.get("duplicateContactId")
    if exc.status != 409 or not isinstance(duplicate, str) or not duplicate.strip():
        return None
    if exc.code and exc.code not in DUPLICATE_CONTACT_CODES:
        log.warning("wix_contact_duplicate_code_unknown", code=exc.code)
    return duplicate.strip()[:64]


def _retry_or_fail(
    sync: WixContactSync, *, error: str, permanent: bool, retry_after: float | None = None
) -> str:
    """The engine's retry policy: full jitter, never before Wix's Retry-After, kind limits."""
    now = timezone.now()
    retry_at = None
    if not permanent:
        retry_at = outbox.retry_at(
            CONTACT_SYNC,
            attempts=sync.attempt_count,
            since=sync.retried_at or sync.created_at,
            now=now,
            retry_after=retry_after,
        )
    if retry_at is None:
        return _finish(sync, status=Status.FAILED, error=error)
    return _finish(sync, status=Status.PENDING, error=error, next_attempt_at=retry_at)


def _finish(
    sync: WixContactSync, *, status: str, error: str, next_attempt_at=None, attempted=True
) -> str:
    counted = {"attempt_count": F("attempt_count") + 1} if attempted else {}
    WixContactSync.objects.filter(pk=sync.pk, status=Status.RUNNING).update(
        status=status,
        next_attempt_at=next_attempt_at,
        claimed_until=None,
        last_error=error[:500],
        **counted,
    )
    log.warning(
        "wix_contact_sync_failed",
        error=error,
        attempts=sync.attempt_count,
        will_retry=status == Status.PENDING,
    )
    return "failed" if status == Status.FAILED else "retry"
