"""django-q2 tasks: thin and idempotent.

Contact syncs and webhook receipts are drained by the outbox engine's task
(``common.outbox.tasks.drain`` with ``"contact_sync"`` or ``"webhook_receipt"``) and swept by
its one sweeper. The two single-row tasks below remain for tasks queued before the outbox (a
deploy's in-flight queue): each claims its row through the engine, so it runs at most once.
"""

from integrations import webhooks


def process_webhook_receipt(receipt_id: int) -> str:
    return webhooks.webhook_process(receipt_id=receipt_id)


def sync_contact(sync_id: int) -> str:
    from integrations import contacts

    return contacts.contact_sync_run(sync_id=sync_id)


def refresh_business(business_id: int) -> str:
    """Fetch instance and site details for a business (first dashboard visit)."""
    from accounts.models import Business
    from integrations.lifecycle import business_refresh_from_wix
    from integrations.wix.client import WixError

    business = Business.objects.filter(pk=business_id, status=Business.Status.ACTIVE).first()
    if business is None:
        return "gone"
    try:
        business_refresh_from_wix(business=business)
    except WixError as exc:
        # The next install event or dashboard visit tries again; nothing depends on it.
        return f"failed: {exc.message}"
    return "refreshed"


def purge_uninstalled() -> int:
    """Scheduled daily: delete businesses whose retention after uninstall has passed."""
    from integrations.lifecycle import business_purge_uninstalled

    return business_purge_uninstalled()
