"""The Wix client's access tokens: asked once, kept in the process and in their row, refreshed
once when refused, and never waited for past the call's deadline."""

import threading
import time

import pytest
from django.db import connection

from integrations.models import IntegrationCall, WixAccessToken
from integrations.wix import client as client_module
from integrations.wix import tokens
from integrations.wix.client import WixClient, WixError
from tests.accounts.factories import BusinessFactory
from tests.integrations.standin_counts import INSTANCE, TOKEN


def test_the_token_is_cached_per_instance(wix, wix_client):
    wix_client.get_app_instance()
    wix_client.get_site_properties()
    wix_client.get_app_instance()
    assert wix.count(TOKEN) == 1
    other = BusinessFactory()
    WixClient.for_business(other).get_app_instance()
    assert wix.count(TOKEN) == 2


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_callers_cause_exactly_one_token_request(wix) -> None:
    business = BusinessFactory()
    barrier = threading.Barrier(20)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=10)
            WixClient.for_business(business).get_site_properties()
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors, errors
    assert wix.count(TOKEN) == 1
    assert wix.count("GET /site-properties/v4/properties") == 20


def test_a_refused_token_is_refreshed_once_and_the_call_retried(wix, wix_client):
    wix_client.get_app_instance()
    wix.expire_tokens()
    assert wix_client.get_app_instance()["instance"]
    assert wix.count(TOKEN) == 2
    assert wix.count(INSTANCE) == 3
    assert IntegrationCall.objects.filter(status=401).count() == 1


def test_a_token_refused_twice_is_a_permanent_error(wix, wix_client):
    wix.faults(token_ttl=0)  # every token is already expired when it is used
    with pytest.raises(WixError) as raised:
        wix_client.get_app_instance()
    assert raised.value.permanent
    assert wix.count(TOKEN) == 2


def test_wrong_app_credentials_are_a_permanent_error(wix, wix_client, settings):
    settings.WIX_APP_SECRET = "not-the-secret"
    with pytest.raises(WixError) as raised:
        wix_client.get_app_instance()
    assert raised.value.permanent
    assert wix.count(TOKEN) == 1
    assert wix.count(INSTANCE) == 0


def test_a_token_endpoint_outage_is_a_transient_wix_error_and_is_recorded(wix, business):
    from integrations.wix.client import access_token

    wix.faults(outage=True, paths=["/oauth2"])
    with pytest.raises(WixError) as raised:
        access_token(
            instance_id=business.instance_id,
            business_id=business.pk,
            deadline=time.monotonic() + 2,
        )
    assert not raised.value.permanent
    call = IntegrationCall.objects.get(api="oauth")
    assert (call.status, call.ok) == (503, False)
    assert not WixAccessToken.objects.get(instance_id=business.instance_id).access_token


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("held", ["locked", "being_inserted"])
def test_a_caller_never_waits_on_the_token_lock_past_its_deadline(wix, held):
    # "being_inserted": the instance's first row, not yet committed by another process (this
    # caller found no row and inserts its own, which waits on that one).
    from django.db import connections, transaction

    from integrations.wix.client import access_token

    if connection.vendor != "postgresql":
        pytest.skip("SQLite serialises writers with its busy timeout instead")
    business = BusinessFactory()
    if held == "locked":
        WixAccessToken.objects.create(instance_id=business.instance_id)
    holding = threading.Event()
    release = threading.Event()

    def hold_the_lock() -> None:
        with transaction.atomic():
            if held == "locked":
                WixAccessToken.objects.select_for_update().get(instance_id=business.instance_id)
            else:
                WixAccessToken.objects.create(instance_id=business.instance_id)
            holding.set()
            release.wait(10)
        connections.close_all()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    try:
        holding.wait(5)
        started = time.monotonic()
        with pytest.raises(WixError) as raised:
            access_token(
                instance_id=business.instance_id,
                business_id=business.pk,
                deadline=time.monotonic() + 0.5,
            )
        assert time.monotonic() - started < 1.5
        assert not raised.value.permanent
    finally:
        release.set()
        holder.join(10)
    # The lock wait limit did not leak into this connection's later statements.
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        assert cursor.fetchone()[0] == "0"
    assert wix.count(TOKEN) == 0


def test_an_uninstall_drops_the_token_this_process_holds(wix, wix_client, business):
    wix_client.get_app_instance()
    client_module.drop_tokens(instance_ids=[business.instance_id])
    assert not WixAccessToken.objects.filter(instance_id=business.instance_id).exists()
    wix_client.get_app_instance()
    assert wix.count(TOKEN) == 2


def test_a_token_refreshed_by_another_process_is_found_in_its_row(wix, wix_client, business):
    wix_client.get_app_instance()
    wix.expire_tokens()
    # Another process met the 401 first and refreshed the row.
    fresh = tokens._request_token(
        instance_id=business.instance_id, business_id=business.pk, deadline=time.monotonic() + 5
    )[0]
    WixAccessToken.objects.filter(instance_id=business.instance_id).update(access_token=fresh)
    assert wix_client.get_app_instance()["instance"]  # 401 with the held one, then the row's
    assert wix.count(TOKEN) == 2


def test_a_token_named_stale_is_refreshed_even_when_this_process_holds_another(
    wix, wix_client, business
):
    from integrations.wix.client import access_token

    wix_client.get_app_instance()
    held = tokens._tokens[business.instance_id][0]
    # Another process refreshed the row; support now asks for a token newer than the row's.
    WixAccessToken.objects.filter(instance_id=business.instance_id).update(access_token="newer")
    fresh = access_token(
        instance_id=business.instance_id,
        business_id=business.pk,
        deadline=time.monotonic() + 5,
        stale="newer",
    )
    assert fresh not in (held, "newer")
    assert wix.count(TOKEN) == 2
    assert WixAccessToken.objects.get(instance_id=business.instance_id).access_token == fresh


def test_the_tokens_a_process_holds_are_bounded(wix, db, monkeypatch):
    monkeypatch.setattr(tokens, "_TOKENS_HELD", 3)
    businesses = [BusinessFactory() for _ in range(5)]
    for business in businesses:
        WixClient.for_business(business).get_site_properties()
    assert list(tokens._tokens) == [b.instance_id for b in businesses[-3:]]


@pytest.mark.django_db
def test_a_new_instance_whose_token_row_exists_after_all_gets_the_stored_token(wix, wix_client):
    # The install hinted that the instance is new; another process stored its token first.
    from datetime import timedelta

    from django.utils import timezone

    WixAccessToken.objects.create(
        instance_id=wix_client.instance_id,
        access_token="stored-by-another-process",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    tokens.expect_first_token(instance_id=wix_client.instance_id)
    token = tokens.access_token(
        instance_id=wix_client.instance_id, business_id=None, deadline=time.monotonic() + 5
    )
    assert token == "stored-by-another-process"
    assert wix.count("POST /oauth2/token") == 0
