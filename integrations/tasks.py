"""django-q2 tasks: thin, idempotent, each claims its row before working."""

from integrations import webhooks


def process_webhook_receipt(receipt_id: int) -> str:
    return webhooks.webhook_process(receipt_id=receipt_id)


def sweep() -> dict:
    """Scheduled every minute: re-enqueue work whose enqueue or worker was lost."""
    from integrations import contacts

    return {
        "webhooks": webhooks.webhook_sweep(),
        "contacts": contacts.contact_sync_sweep(),
    }


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
