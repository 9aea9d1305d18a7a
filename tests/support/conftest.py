import pytest
from django.test import Client

from accounts.models import User
from tests.integrations.conftest import _standin_server, wix
from tests.proposals.smtp import delivery_settings, smtp_server
from tests.support.factories import support_staff

__all__ = ["_standin_server", "delivery_settings", "smtp_server", "wix"]


@pytest.fixture
def support_user(db):
    return support_staff()


@pytest.fixture
def support_client(support_user):
    # Its own client: tests often drive the dashboard (as the owner) alongside.
    client = Client()
    client.force_login(support_user)
    return client


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser("root@example.com", "correct horse battery")


@pytest.fixture
def super_client(superuser):
    client = Client()
    client.force_login(superuser)
    return client
