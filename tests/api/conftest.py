import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import services as account_services
from accounts.services import api_key_create
from tests.accounts.factories import BusinessFactory, MembershipFactory
from tests.proposals.factories import ClientFactory, make_proposal


@pytest.fixture(autouse=True)
def _fresh_throttle_counters():
    # Throttle counters live in the cache; each test starts with none.
    cache.clear()
    yield
    cache.clear()


def bearer_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    return client


@pytest.fixture
def key_cached(monkeypatch):
    """A read trusts the key it checked within the last second (accounts.services): held for
    the whole test, so that a slow machine counts the same queries."""
    monkeypatch.setattr(account_services, "KEY_CACHE_SECONDS", 60)


@pytest.fixture
def api_key(business):
    return api_key_create(business=business, name="tests", acting_user=None)


@pytest.fixture
def api(api_key):
    """An API client authenticated with a key of ``business``."""
    return bearer_client(api_key[1])


@pytest.fixture
def customer(business):
    return ClientFactory(business=business)


@pytest.fixture
def draft(customer):
    return make_proposal(client=customer)


@pytest.fixture
def other(db):
    """Business B with a key and one of everything."""
    business = BusinessFactory()
    MembershipFactory(business=business)
    _, raw = api_key_create(business=business, name="b", acting_user=None)
    return business, raw
