import pytest

from accounts.models import ApiKey, Membership
from tests.accounts.factories import BusinessFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_creating_a_key_shows_it_once_and_it_works(owner_client, business):
    created = owner_client.post("/app/api-keys/", {"name": "Zapier"})

    # Post/redirect/get: the POST answers a redirect, so a reload creates no second key.
    assert created.status_code == 302 and created["Location"] == "/app/api-keys/created"
    response = owner_client.get(created["Location"])
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    raw = response.context["raw_key"]
    assert raw.encode() in response.content
    key = ApiKey.objects.get(business=business)
    assert key.key_hash != raw and raw not in key.prefix
    # Shown once: reloading the key's page finds it gone, and says so.
    again = owner_client.get(created["Location"], follow=True)
    assert raw.encode() not in again.content
    assert b"shown only once" in again.content
    assert ApiKey.objects.count() == 1
    listing = owner_client.get("/app/api-keys/")
    assert raw.encode() not in listing.content
    assert b"Zapier" in listing.content and b"Never" in listing.content

    from tests.api.conftest import bearer_client

    assert bearer_client(raw).get("/api/v1/business/").json()["id"] == business.pk
    assert b"Never" not in owner_client.get("/app/api-keys/").content  # last used shown


def test_revoking_a_key(owner_client, business):
    owner_client.post("/app/api-keys/", {"name": "Old"})
    key = ApiKey.objects.get(business=business)

    response = owner_client.post(f"/app/api-keys/{key.pk}/revoke")

    assert response.status_code == 302
    key.refresh_from_db()
    assert key.revoked_at is not None


def test_another_business_key_cannot_be_revoked(owner_client):
    from accounts.services import api_key_create

    foreign, _ = api_key_create(business=BusinessFactory(), name="theirs", acting_user=None)

    assert owner_client.post(f"/app/api-keys/{foreign.pk}/revoke").status_code == 404
    foreign.refresh_from_db()
    assert foreign.revoked_at is None


def test_members_see_keys_but_do_not_manage_them(client, business):
    member = MembershipFactory(business=business, role=Membership.Role.MEMBER).user
    client.force_login(member)

    assert client.get("/app/api-keys/").status_code == 200
    assert client.post("/app/api-keys/", {"name": "x"}).status_code == 404
    assert not ApiKey.objects.exists()


def test_a_name_is_required(owner_client):
    response = owner_client.post("/app/api-keys/", {"name": ""})
    assert response.status_code == 400
    assert not ApiKey.objects.exists()


def test_the_new_key_is_forgotten_by_the_list_page(owner_client, business):
    owner_client.post("/app/api-keys/", {"name": "Zapier"})
    owner_client.get("/app/api-keys/")  # the key's page was never opened

    response = owner_client.get("/app/api-keys/created", follow=True)
    assert b"shown only once" in response.content
    assert "api_key_created" not in owner_client.session


def test_the_new_key_page_of_another_business_shows_nothing(owner_client, owner):
    owner_client.post("/app/api-keys/", {"name": "Zapier"})
    # The same session switched to the user's other business before opening the key's page.
    other = MembershipFactory(user=owner).business
    session = owner_client.session
    session["business_id"] = other.pk
    session.save()

    response = owner_client.get("/app/api-keys/created", follow=True)
    assert b"shown only once" in response.content
    assert "raw_key" not in (response.context or {})
