import pytest

from accounts.models import ApiKey, Membership
from tests.accounts.factories import BusinessFactory, MembershipFactory

pytestmark = pytest.mark.django_db


def test_creating_a_key_shows_it_once_and_it_works(owner_client, business):
    response = owner_client.post("/app/api-keys/", {"name": "Zapier"})

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    raw = response.context["raw_key"]
    assert raw.encode() in response.content
    key = ApiKey.objects.get(business=business)
    assert key.key_hash != raw and raw not in key.prefix
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
