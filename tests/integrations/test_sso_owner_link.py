"""SSO signs the site owner in to their own owner account when Wix's owner email names it,
and calls anyone else by a readable name (never ``wix-…@wix-sso.invalid``)."""

import pytest
from django.contrib.auth import SESSION_KEY

from accounts.models import Membership, User
from integrations.models import WixUserLink
from integrations.sso import SSO_EMAIL_DOMAIN
from integrations.wix.sso import sign_instance
from tests.accounts.factories import BusinessFactory, MembershipFactory, UserFactory
from tests.integrations.test_sso import SECRET, _secret, instance_payload  # noqa: F401

OWNER_UID = "0f1e2d3c-aaaa-4bbb-8ccc-000000000001"
HELPER_UID = "9a8b7c6d-aaaa-4bbb-8ccc-000000000002"


def open_as(
    client, business, uid: str = OWNER_UID, *, owner: bool = True, site_owner: str = OWNER_UID
):
    claims = {"uid": uid, "permissions": "OWNER" if owner else "", "siteOwnerId": site_owner}
    instance = sign_instance(instance_payload(business.instance_id, **claims), secret=SECRET)
    return client.get("/app/", {"instance": instance})


def signed_in(client) -> User:
    return User.objects.get(pk=client.session[SESSION_KEY])


@pytest.fixture
def business(db):
    return BusinessFactory(owner_email="Owner@Studio.example")


@pytest.fixture
def owner_account(business):
    user = UserFactory(email="owner@studio.example", full_name="Olive Owner")
    MembershipFactory(user=user, business=business, role=Membership.Role.OWNER)
    return user


def test_the_site_owner_signs_in_to_the_owner_account_wix_names(
    client, business, owner_account, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = open_as(client, business)

    assert response.status_code == 302
    assert signed_in(client) == owner_account
    assert WixUserLink.objects.get(wix_user_id=OWNER_UID).user == owner_account
    assert not User.objects.filter(email__endswith=SSO_EMAIL_DOMAIN).exists()
    assert Membership.objects.filter(business=business).count() == 1
    page = client.get("/app/").content.decode()
    assert "Olive Owner" in page


@pytest.mark.parametrize(
    "why",
    ["not_the_wix_owner", "member_not_owner", "other_business_too", "staff", "other_email"],
)
def test_no_link_unless_every_condition_holds(client, business, owner_account, why):
    owner = True
    if why == "not_the_wix_owner":
        owner = False
    elif why == "member_not_owner":
        Membership.objects.filter(user=owner_account).update(role=Membership.Role.MEMBER)
    elif why == "other_business_too":
        MembershipFactory(user=owner_account, business=BusinessFactory())
    elif why == "staff":
        User.objects.filter(pk=owner_account.pk).update(is_staff=True)
    elif why == "other_email":
        business.owner_email = "someone-else@studio.example"
        business.save()

    open_as(client, business, owner=owner)

    user = signed_in(client)
    assert user != owner_account
    assert user.email.endswith(f"@{SSO_EMAIL_DOMAIN}")


def test_a_co_owner_is_not_signed_in_to_the_site_owners_account(client, business, owner_account):
    # A collaborator Wix gives the owner's permissions keeps their own uid; siteOwnerId names
    # the site's owner (Wix: "the uid will not match the siteOwnerId if the user is a
    # contributor").
    open_as(client, business, HELPER_UID, owner=True, site_owner=OWNER_UID)

    co_owner = signed_in(client)
    assert co_owner != owner_account
    assert co_owner.email.endswith(f"@{SSO_EMAIL_DOMAIN}")
    assert co_owner.full_name == "Wix co-owner 9a8b7c"  # not "Site owner (owner@…)"
    assert not WixUserLink.objects.filter(user=owner_account).exists()
    assert Membership.objects.get(user=co_owner).role == Membership.Role.OWNER  # Wix's say


def test_an_instance_naming_no_site_owner_links_no_account(client, business, owner_account):
    open_as(client, business, OWNER_UID, owner=True, site_owner="")

    assert signed_in(client) != owner_account
    assert not WixUserLink.objects.filter(user=owner_account).exists()


def test_an_account_linked_to_another_wix_user_is_not_taken_over(client, business, owner_account):
    WixUserLink.objects.create(wix_user_id=HELPER_UID, user=owner_account)

    open_as(client, business)

    assert signed_in(client) != owner_account


def test_others_get_a_readable_name_not_the_made_up_address(client, business, owner_account):
    open_as(client, business, HELPER_UID, owner=False)

    helper = signed_in(client)
    assert helper.full_name == "Wix collaborator 9a8b7c"
    page = client.get("/app/").content.decode()
    assert ">Wix collaborator 9a8b7c<" in page
    assert f">{helper.email}<" not in page  # (a tooltip may still carry it)


def test_an_owner_without_an_account_is_named_by_wix_owner_email(client, db):
    business = BusinessFactory(owner_email="")
    open_as(client, business)
    assert signed_in(client).full_name == "Site owner"

    business.owner_email = "olive@studio.example"
    business.save()
    open_as(client, business)
    assert signed_in(client).full_name == "Site owner (olive@studio.example)"


def test_a_later_visit_moves_the_owner_to_their_account_once_wix_names_it(
    client, business, owner_account
):
    email = business.owner_email
    business.owner_email = ""
    business.save()
    open_as(client, business)
    made_here = signed_in(client)
    assert made_here.email.endswith(f"@{SSO_EMAIL_DOMAIN}")

    business.owner_email = email  # the site details refresh learnt it
    business.save()
    response = open_as(client, business)

    # The same Wix user, by Wix's signature: no "switch account?" question.
    assert response.status_code == 302
    assert signed_in(client) == owner_account
    assert WixUserLink.objects.get(wix_user_id=OWNER_UID).user == owner_account


@pytest.mark.parametrize("full_name", ["", "Wix collaborator 9a8b7c"])
def test_the_header_never_shows_the_made_up_address(client, business, full_name):
    open_as(client, business, HELPER_UID, owner=False)
    User.objects.filter(pk=signed_in(client).pk).update(full_name=full_name)

    page = client.get("/app/").content.decode()

    assert SSO_EMAIL_DOMAIN not in page  # neither as the name nor in the tooltip
    shown = full_name or "Wix user"
    assert f'title="{shown}">{shown}</span>' in page
