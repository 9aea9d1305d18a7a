"""The integration's outbox kinds (registered in IntegrationsConfig.ready()).

Limits and backoff per kind come from settings (``OUTBOX_CONTACT_SYNC_MAX_ATTEMPTS``,
``OUTBOX_WEBHOOK_RECEIPT_BACKOFF_BASE_SECONDS``, …; then ``OUTBOX_DEFAULTS``).
"""

from common import outbox

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
)
