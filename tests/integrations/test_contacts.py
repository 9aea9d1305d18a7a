"""Clients become Wix contacts after a proposal is sent or accepted: once, found or adopted rather
than duplicated (outages and failures are in test_contacts_failures.py)."""

from types import SimpleNamespace

import pytest
from django.db import transaction

from accounts.models import Business
from accounts.services import api_key_create
from integrations import contacts
from integrations.models import WixContactSync
from tests.accounts.factories import BusinessFactory
from tests.api.conftest import bearer_client
from tests.integrations.conftest import queued_drains
from tests.integrations.contact_syncs import KIND, drain
from tests.integrations.standin_counts import CREATE
from tests.proposals.factories import ClientFactory, make_sent_proposal


@pytest.mark.django_db
def test_sending_a_proposal_syncs_its_client_as_a_wix_contact(wix, send):
    client = ClientFactory(name="Ada Lovelace", email="Ada@Example.org", company="Engines")
    send(client)
    sync = WixContactSync.objects.get(client=client)
    assert sync.status == WixContactSync.Status.PENDING
    assert sync.reason == "proposal_sent"
    assert queued_drains().count(KIND) == 1

    assert drain() == {"synced": 1}
    sync.refresh_from_db()
    assert sync.status == WixContactSync.Status.SYNCED
    (contact,) = wix.contacts(client.business.instance_id)
    assert sync.wix_contact_id == contact["id"]
    assert contact["primaryInfo"]["email"] == "ada@example.org"
    assert contact["info"]["name"] == {"first": "Ada", "last": "Lovelace"}


@pytest.mark.django_db
def test_the_api_shows_the_wix_contact_a_client_was_synced_to(wix, send):
    client = ClientFactory()
    other = ClientFactory(business=client.business)
    _, raw_key = api_key_create(business=client.business, name="tests", acting_user=None)
    api = bearer_client(raw_key)
    send(client)
    send(other)
    assert api.get(f"/api/v1/clients/{client.pk}/").json()["wix_contact_id"] == ""

    assert drain() == {"synced": 2}
    contact_ids = {
        c["primaryInfo"]["email"]: c["id"] for c in wix.contacts(client.business.instance_id)
    }
    for each in (client, other):
        shown = api.get(f"/api/v1/clients/{each.pk}/").json()["wix_contact_id"]
        synced = WixContactSync.objects.get(client=each).wix_contact_id
        assert shown == synced == contact_ids[each.email.lower()]


@pytest.mark.django_db
def test_a_sync_run_on_its_own_records_the_contact_on_the_client_too(wix, send):
    client = ClientFactory()
    send(client)
    assert contacts.contact_sync_run(sync_id=WixContactSync.objects.get().pk) == "synced"
    (contact,) = wix.contacts(client.business.instance_id)
    client.refresh_from_db()
    assert client.wix_contact_id == contact["id"]


@pytest.mark.django_db
def test_the_outbox_row_rolls_back_with_the_send(wix, django_capture_on_commit_callbacks):
    client = ClientFactory()
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            make_sent_proposal(client=client)
            raise RuntimeError("the send failed after the signal")
    assert not WixContactSync.objects.exists()
    assert KIND not in queued_drains()


@pytest.mark.django_db
def test_sending_again_and_accepting_never_creates_a_second_contact(wix, send):
    client = ClientFactory()
    send(client)
    drain()
    send(client)
    contacts.contact_sync_request(client=client, reason="proposal_accepted")
    drain()
    assert WixContactSync.objects.count() == 1
    assert len(wix.contacts(client.business.instance_id)) == 1
    assert wix.count(CREATE) == 1


@pytest.mark.django_db
def test_a_client_whose_email_changed_is_synced_again_under_the_new_address(wix, send):
    client = ClientFactory(email="old@example.org")
    send(client)
    drain()
    assert WixContactSync.objects.get(client=client).synced_email == "old@example.org"
    client.email = "new@example.org"
    client.save()
    send(client)
    assert drain() == {"synced": 1}
    sync = WixContactSync.objects.get(client=client)
    assert sync.synced_email == "new@example.org"
    contact_ids = {
        c["primaryInfo"]["email"]: c["id"] for c in wix.contacts(client.business.instance_id)
    }
    assert sorted(contact_ids) == ["new@example.org", "old@example.org"]
    assert sync.wix_contact_id == contact_ids["new@example.org"]
    client.refresh_from_db()
    assert client.wix_contact_id == contact_ids["new@example.org"]


@pytest.mark.django_db
def test_an_existing_wix_contact_is_found_not_duplicated(wix, send):
    from integrations.wix.client import WixClient

    client = ClientFactory(email="known@example.org")
    existing = WixClient.for_business(client.business).create_contact(
        {"emails": {"items": [{"email": "known@example.org"}]}}
    )
    send(client)
    drain()
    assert WixContactSync.objects.get().wix_contact_id == existing["id"]
    assert len(wix.contacts(client.business.instance_id)) == 1


@pytest.mark.django_db
def test_a_lost_create_answer_resolves_to_the_contact_through_the_409(wix, send):
    client = ClientFactory()
    # The create happens at Wix but its answer is lost; the retry gets 409 with the id.
    wix.faults(error_burst=1, error_after_processing=True, paths=["/contacts/v4/contacts$"])
    send(client)
    assert drain() == {"synced": 1}
    (contact,) = wix.contacts(client.business.instance_id)
    assert WixContactSync.objects.get().wix_contact_id == contact["id"]
    assert wix.count(CREATE) == 2


@pytest.mark.django_db
def test_the_stand_in_answers_a_duplicate_create_as_wix_does(wix, business):
    from integrations.wix.client import WixClient, WixError

    client = WixClient.for_business(business)
    info = {"emails": {"items": [{"email": "twice@example.org"}]}}
    first = client.create_contact(info)
    with pytest.raises(WixError) as raised:
        client.create_contact(info)
    error = raised.value
    assert (error.status, error.code, error.permanent) == (409, "DUPLICATE_CONTACT_EXISTS", True)
    assert error.data["duplicateContactId"] == first["id"]
    assert error.data["duplicateEmail"] == "twice@example.org"


class _WixMissingTheContact:
    """A Wix whose query does not find the contact (its search lags) but whose create names
    it in the 409, with ``code`` spelled as given."""

    def __init__(self, *, code: str, data: dict, status: int = 409) -> None:
        self.code, self.data, self.status = code, data, status
        self.creates = 0

    def query_contacts_by_email(self, email: str) -> list:
        return []

    def create_contact(self, info: dict) -> dict:
        from integrations.wix.client import WixError

        self.creates += 1
        raise WixError(
            "refused",
            permanent=True,
            status=self.status,
            code=self.code,
            data=self.data,
        )


@pytest.mark.parametrize(
    "code", ["DUPLICATE_CONTACT_EXISTS", "DUPLICATE_CONTACT_EXIST", "", "SOMETHING_NEW"]
)
def test_a_409_naming_the_contact_adopts_it_whatever_the_code_spelling(code):
    wix = _WixMissingTheContact(code=code, data={"duplicateContactId": "c-123"})
    client = SimpleNamespace(email="Known@Example.org", name="Ada L", company="")
    assert contacts._upsert(wix, client) == "c-123"
    assert wix.creates == 1


@pytest.mark.parametrize(
    ("status", "data"),
    [(409, {}), (409, {"duplicateContactId": ""}), (409, {"duplicateContactId": 7}), (400, {})],
)
def test_a_refused_create_naming_no_contact_is_not_adopted(status, data):
    from integrations.wix.client import WixError

    wix = _WixMissingTheContact(code="DUPLICATE_CONTACT_EXISTS", data=data, status=status)
    client = SimpleNamespace(email="known@example.org", name="Ada", company="")
    with pytest.raises(WixError):
        contacts._upsert(wix, client)


@pytest.mark.django_db
def test_no_sync_for_an_uninstalled_business(wix, send):
    client = ClientFactory(business=BusinessFactory(status=Business.Status.UNINSTALLED))
    assert contacts.contact_sync_request(client=client, reason="proposal_sent") is None
    assert not WixContactSync.objects.exists()
