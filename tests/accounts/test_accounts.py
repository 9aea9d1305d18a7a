from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError
from django.http import Http404
from django.utils import timezone

from accounts.models import ApiKey, Business, Membership, User
from accounts.scoping import get_for_business_or_404, scoped
from accounts.selectors import business_for_user, owner_emails_for
from accounts.services import (
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
    business_owner_choices_save,
    membership_role_change,
    user_create,
    user_rename,
)
from tests.accounts.factories import BusinessFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_users_sign_in_with_their_email_case_insensitively(client):
    User.objects.create_user("Jane@Example.com", "correct horse battery")
    assert client.login(username="jane@example.com", password="correct horse battery")


def test_emails_are_unique_regardless_of_case():
    User.objects.create_user("a@example.com", "x")
    with pytest.raises(IntegrityError):
        User.objects.create(email="A@example.com")


def test_api_key_is_shown_once_and_stored_hashed(business):
    key, raw = api_key_create(business=business, name="Zapier", acting_user=None)
    assert raw.startswith("prk_") and len(raw) > 40
    stored = ApiKey.objects.get(pk=key.pk)
    assert raw not in (stored.key_hash, stored.prefix, str(stored))
    assert stored.key_hash == ApiKey.hash_key(raw)
    assert api_key_authenticate(raw_key=raw).business == business
    assert api_key_authenticate(raw_key=raw).last_used_at is not None


def test_a_revoked_or_wrong_key_authenticates_nothing(business):
    key, raw = api_key_create(business=business, name="CI", acting_user=None)
    assert api_key_authenticate(raw_key=raw + "x") is None
    assert api_key_authenticate(raw_key="") is None
    api_key_revoke(api_key=key, acting_user=None)
    assert api_key_authenticate(raw_key=raw) is None


def test_scoped_queries_only_see_their_business():
    a, b = BusinessFactory(), BusinessFactory()
    key_a, _ = api_key_create(business=a, name="a", acting_user=None)
    key_b, _ = api_key_create(business=b, name="b", acting_user=None)
    assert list(scoped(ApiKey, a)) == [key_a]
    assert get_for_business_or_404(ApiKey, a, pk=key_a.pk) == key_a
    with pytest.raises(Http404):
        get_for_business_or_404(ApiKey, a, pk=key_b.pk)
    with pytest.raises(Http404):
        get_for_business_or_404(ApiKey, a, pk="not-a-number")
    assert list(scoped(ApiKey, None)) == []


def test_the_support_group_exists_after_migrations():
    assert Group.objects.filter(name="Support").exists()


def test_admin_login_page_is_served(client):
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert b"Django administration" in response.content or b"Log in" in response.content


def test_dashboard_login_page_is_accessible(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b'<label for="id_username">Email</label>' in response.content


def test_a_user_works_in_the_business_they_belong_to(client):
    membership = MembershipFactory()
    client.force_login(membership.user)
    response = client.get("/accounts/login/", follow=False)
    assert response.wsgi_request.business == membership.business


def test_the_chosen_business_is_one_the_user_belongs_to_else_their_first(
    django_assert_num_queries,
):
    first = MembershipFactory()
    user = first.user
    second = MembershipFactory(user=user)
    Membership.objects.filter(pk=second.pk).update(
        created_at=first.created_at + timedelta(seconds=1)
    )
    stranger = BusinessFactory()
    with django_assert_num_queries(1):
        assert business_for_user(user=user, business_id=second.business_id) == second.business
    assert business_for_user(user=user, business_id=first.business_id) == first.business
    # Not a member, no choice, or a session value that is not an id: the first membership.
    for choice in (stranger.pk, None, str(second.business_id), True, 10**30):
        assert business_for_user(user=user, business_id=choice) == first.business
    # The order is the membership's, not the business's id.
    Membership.objects.filter(pk=first.pk).update(created_at=timezone.now() + timedelta(days=1))
    assert business_for_user(user=user) == second.business
    assert business_for_user(user=MembershipFactory().user, business_id=second.business_id) != (
        second.business
    )
    assert business_for_user(user=UserFactory(), business_id=None) is None


def test_a_role_change_leaves_a_role_changed_since_the_membership_was_read():
    membership = MembershipFactory(role=Membership.Role.MEMBER)
    stale = Membership.objects.get(pk=membership.pk)
    Membership.objects.filter(pk=membership.pk).update(role=Membership.Role.ADMIN)

    assert membership_role_change(membership=stale, role=Membership.Role.OWNER) is False
    assert Membership.objects.get(pk=membership.pk).role == Membership.Role.ADMIN

    fresh = Membership.objects.get(pk=membership.pk)
    assert membership_role_change(membership=fresh, role=Membership.Role.OWNER) is True
    assert Membership.objects.get(pk=membership.pk).role == fresh.role == Membership.Role.OWNER


def test_a_user_made_without_a_password_has_none_and_can_be_renamed():
    user = user_create(email="Wix-1@Wix-SSO.invalid", full_name="Site owner")
    assert user.email == "wix-1@wix-sso.invalid"
    assert not user.has_usable_password()

    user_rename(user=user, full_name="Wix collaborator 1a2b3c")
    assert User.objects.get(pk=user.pk).full_name == user.full_name == "Wix collaborator 1a2b3c"


def test_the_owner_choices_are_one_update_of_what_changed(django_assert_num_queries):
    business = BusinessFactory(currency="USD", timezone="UTC", locale="en")
    with django_assert_num_queries(1):
        business_owner_choices_save(
            business=business, currency="EUR", time_zone="Europe/Berlin", locale="de-DE"
        )
    with django_assert_num_queries(0):
        business_owner_choices_save(business=business, currency="EUR", time_zone="Europe/Berlin")
    stored = Business.objects.get(pk=business.pk)
    assert (stored.currency, stored.timezone, stored.locale) == ("EUR", "Europe/Berlin", "de-DE")
    assert stored.timezone_chosen and stored.locale_chosen

    business_owner_choices_save(business=business, locale="")  # follow the Wix site again
    stored.refresh_from_db()
    assert (stored.locale, stored.locale_chosen) == ("de-DE", False)
    assert business.locale_chosen is False


def test_a_revoked_key_logs_who_revoked_it(business, log_events):
    user = UserFactory()
    key, _ = api_key_create(business=business, name="Zapier", acting_user=user)
    api_key_revoke(api_key=key, acting_user=user)
    revoked = next(e for e in log_events if e["event"] == "api_key_revoked")
    assert (revoked["api_key_id"], revoked["acting_user_id"]) == (key.pk, user.pk)


def test_owner_notifications_never_go_to_a_made_up_sso_address(django_assert_num_queries):
    sso_first = BusinessFactory(owner_email="")
    MembershipFactory(business=sso_first, user__email="wix-abc@wix-sso.invalid")
    MembershipFactory(business=sso_first, user__email="second.owner@example.org")
    only_sso = BusinessFactory(owner_email="")
    MembershipFactory(business=only_sso, user__email="wix-def@WIX-SSO.INVALID")
    made_up = BusinessFactory(owner_email="someone@site.invalid")
    MembershipFactory(business=made_up, user__email="owner@example.org")
    with django_assert_num_queries(1):
        emails = owner_emails_for(businesses=[sso_first, only_sso, made_up])
    assert emails == {
        sso_first.pk: "second.owner@example.org",  # the first owner mail can reach
        only_sso.pk: "",  # nobody to tell, rather than a bounce from nowhere
        made_up.pk: "owner@example.org",
    }
