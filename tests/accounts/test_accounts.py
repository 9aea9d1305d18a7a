from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError
from django.http import Http404
from django.utils import timezone

from accounts.models import ApiKey, Membership, User
from accounts.scoping import get_for_business_or_404, scoped
from accounts.selectors import business_for_user
from accounts.services import api_key_authenticate, api_key_create, api_key_revoke
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
