"""A client's contact in the business's Wix contact list, as the integration that syncs it found.

Proposals owns ``Client`` and knows nothing of how the contact is synced: the integration
reports the ids it got back through this service, never by writing the model itself.
"""

from django.db.models import Case, F, Value, When

from proposals.models import Client


def client_wix_contacts_record(*, contact_ids: dict[int, str]) -> int:
    """Record each client's Wix contact id (client id → contact id), in one UPDATE.

    What the API shows as the client's ``wix_contact_id``; returns the rows written.
    """
    if not contact_ids:
        return 0
    return Client.objects.filter(pk__in=contact_ids).update(
        wix_contact_id=Case(
            *(When(pk=pk, then=Value(contact_id)) for pk, contact_id in contact_ids.items()),
            default=F("wix_contact_id"),
        )
    )
