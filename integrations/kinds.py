"""The integration's outbox kinds (registered in IntegrationsConfig.ready()).

Limits and backoff per kind come from settings (``OUTBOX_CONTACT_SYNC_MAX_ATTEMPTS``,
``OUTBOX_WEBHOOK_RECEIPT_BACKOFF_BASE_SECONDS``, …; then ``OUTBOX_DEFAULTS``).
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection

from common import outbox
from common.outbox.writes import outcomes_written, update_rows

CONTACT_SYNC = outbox.Kind(
    name="contact_sync",
    model="integrations.WixContactSync",
    work="integrations.contacts.contact_syncs_work",
    on_lease_expired="integrations.contacts.contact_syncs_interrupted",
    due_states=("pending",),
    working_state="running",
    select_related=("client", "business"),
    state_field="status",
    lease_error="worker lost while syncing",
    success_outcomes=("synced",),
    retry_outcomes=("retry",),
)

WEBHOOK_RECEIPT = outbox.Kind(
    name="webhook_receipt",
    model="integrations.WebhookReceipt",
    work="integrations.webhooks.webhook_receipts_work",
    on_lease_expired="integrations.webhooks.webhook_receipts_interrupted",
    due_states=("pending",),
    working_state="processing",
    state_field="status",
    lease_error="worker lost while processing",
    success_outcomes=("processed",),
    retry_outcomes=("retry",),
)

WIX_INVOICE = outbox.Kind(
    name="wix_invoice",
    model="integrations.WixInvoice",
    work="integrations.invoice_steps.wix_invoices_work",
    on_lease_expired="integrations.invoice_steps.wix_invoices_interrupted",
    due_states=("pending",),
    working_state="working",
    select_related=("business", "proposal__client"),
    lease_error="worker lost while invoicing",
    success_outcomes=("published", "sent", "watched"),
    retry_outcomes=("retry",),
)


@contextmanager
def commits_without_waiting():
    """Inside, PostgreSQL commits without waiting for the disk (``synchronous_commit = off``).

    For these kinds' work (``WIX_DRAIN_ASYNC_COMMIT``, default on): the wait (~6 ms a commit
    here; a row commits its outcome and each Wix call record) was a row's largest cost besides
    Wix. What it risks: a crash of PostgreSQL itself may forget the last fraction of a second of
    commits, in order, so a forgotten change takes every later one with it, the row's outcome
    included. The row is then still claimed (the claim waited for the disk): its lease runs
    out and it is worked again — the upsert finds the contact, a lifecycle event is applied
    only if newer — and a few Wix call records are lost. A killed worker loses nothing by it.
    """
    if connection.vendor != "postgresql" or not settings.WIX_DRAIN_ASYNC_COMMIT:
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('synchronous_commit'), "
            "set_config('synchronous_commit', 'off', false)"
        )
        (previous, _) = cursor.fetchone()
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('synchronous_commit', %s, false)", [previous])
        except DatabaseError:  # a broken connection is replaced, with the server's default
            connection.close()


@contextmanager
def batch_of_wix_work(kind: outbox.Kind, done_fields: list[str]) -> Iterator[list]:
    """The frame of one claimed batch of these kinds' work; yields the list of finished rows.

    Inside: commits without waiting for the disk (above), the Wix call records kept and
    written in one INSERT (``calls_recorded_in_bulk``), and the rows appended to the yielded
    list (their ``done_fields`` set) written in one UPDATE when the batch ends, however it ends
    (through a database restart: ``outcomes_written``).
    A failure is written at once, row by row (its retry time matters to the next claim).

    What batching the outcomes costs: a worker killed inside the batch leaves its finished rows
    claimed; their lease runs out and they are worked again. Both kinds are idempotent (the
    upsert finds the contact it created; an install or plan event already applied changes
    nothing), so the cost is some repeated calls to Wix, never a duplicate.
    """
    from integrations.wix.client import calls_recorded_in_bulk

    done: list = []
    with commits_without_waiting(), calls_recorded_in_bulk():
        try:
            yield done
        finally:
            outcomes_written(kind, lambda: update_rows(kind.model_class, done, done_fields))


def write_done(row, fields: list[str], *, done: list | None, working_state: str) -> None:
    """Write a finished row's ``fields``: with the batch's others (``done``), or at once, only
    while the row is still in ``working_state`` (held by this worker)."""
    if done is not None:
        done.append(row)
        return
    values = {name: getattr(row, name) for name in fields}
    type(row)._default_manager.filter(pk=row.pk, status=working_state).update(**values)
