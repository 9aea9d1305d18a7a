"""A read trusts a key checked within the last second; writes and revocations never wait."""

import time

import pytest
from django.utils import timezone

from accounts import services as account_services
from accounts.models import ApiKey, Business
from tests.api.test_problems import assert_problem

pytestmark = pytest.mark.django_db


@pytest.fixture
def later(monkeypatch):
    """Moves the clock the key cache reads past its one second."""

    def move() -> None:
        now = time.monotonic() + account_services.KEY_CACHE_SECONDS
        monkeypatch.setattr(account_services, "_clock", lambda: now)

    return move


def test_a_read_within_the_second_does_not_read_the_key_again(
    api, draft, monkeypatch, django_assert_num_queries
):
    monkeypatch.setattr(account_services, "KEY_CACHE_SECONDS", 60)  # however slow this machine
    api.get("/api/v1/business/")

    with django_assert_num_queries(2):  # the proposal, its content: no key, no business
        assert api.get(f"/api/v1/proposals/{draft.pk}/").status_code == 200


def test_a_key_revoked_by_another_worker_stops_reads_within_the_second(
    api, api_key, draft, monkeypatch, later
):
    monkeypatch.setattr(account_services, "KEY_CACHE_SECONDS", 60)
    assert api.get(f"/api/v1/proposals/{draft.pk}/").status_code == 200
    # Another process revokes it: this one has not heard of it.
    ApiKey.objects.filter(pk=api_key[0].pk).update(revoked_at=timezone.now())
    assert api.get(f"/api/v1/proposals/{draft.pk}/").status_code == 200

    later()
    assert_problem(api.get(f"/api/v1/proposals/{draft.pk}/"), 401)


def test_a_write_reads_the_key_fresh(api, api_key, customer, monkeypatch):
    monkeypatch.setattr(account_services, "KEY_CACHE_SECONDS", 60)
    assert api.get("/api/v1/business/").status_code == 200
    ApiKey.objects.filter(pk=api_key[0].pk).update(revoked_at=timezone.now())

    response = api.post("/api/v1/clients/", {"name": "N", "email": "n@example.com"}, format="json")

    assert_problem(response, 401)
    assert_problem(api.get("/api/v1/business/"), 401)  # and the cache heard of it


def test_revoking_in_this_process_takes_effect_at_once(api, api_key, monkeypatch):
    monkeypatch.setattr(account_services, "KEY_CACHE_SECONDS", 60)
    assert api.get("/api/v1/business/").status_code == 200

    account_services.api_key_revoke(api_key=api_key[0], acting_user=None)

    assert_problem(api.get("/api/v1/business/"), 401)


def test_an_uninstall_elsewhere_stops_reads_within_the_second(api, business, monkeypatch, later):
    monkeypatch.setattr(account_services, "KEY_CACHE_SECONDS", 60)
    assert api.get("/api/v1/business/").status_code == 200
    Business.objects.filter(pk=business.pk).update(status="uninstalled")

    later()
    assert_problem(api.get("/api/v1/business/"), 403)


def test_the_cache_keeps_no_raw_key(api, api_key):
    api.get("/api/v1/business/")
    raw = api_key[1]

    assert raw not in account_services._key_cache
    assert api_key[0].key_hash in account_services._key_cache
