"""What a drain of real Wix work costs the database: a constant, small number of queries per row.

Against the stand-in over HTTP, through the real client (token, breaker, retry budget, call
records), so that a query added anywhere on the way shows up here.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common import outbox
from integrations.models import IntegrationCall, WebhookReceipt, WixContactSync
from integrations.webhooks import webhook_receive
from tests.accounts.factories import BusinessFactory
from tests.integrations.test_webhooks import signed
from tests.proposals.factories import ClientFactory

Receipt = WebhookReceipt.Status
Sync = WixContactSync.Status


def _syncs(count: int) -> None:
    business = BusinessFactory()
    clients = [ClientFactory(business=business) for _ in range(count)]
    WixContactSync.objects.bulk_create(
        WixContactSync(business=business, client=client) for client in clients
    )


def _installs(count: int, tag: str) -> None:
    for n in range(count):
        body = signed(
            event_type="AppInstalled", instance_id=f"1a2b3c4d-0000-4000-8000-{tag}{n:010d}"
        ).encode()
        _, status, _ = webhook_receive(body=body, size=len(body))
        assert status == 200


def _drain_queries(kind: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        totals = outbox.drain(kind)
    assert totals["claimed"] and not totals["left"], totals
    return len(queries.captured_queries)


@pytest.mark.django_db
def test_a_contact_sync_costs_one_query_per_row_in_a_batch(wix, settings):
    settings.WIX_TOKEN_REFRESH_MARGIN = 0
    counts = {}
    for n in (5, 40):
        _syncs(n)
        counts[n] = _drain_queries("contact_sync")
    assert set(WixContactSync.objects.values_list("status", flat=True)) == {Sync.SYNCED}
    # Every Wix call is still recorded: a token, then the query and the create per client.
    assert IntegrationCall.objects.filter(ok=True).count() == 2 + 2 * 45
    per_row = (counts[40] - counts[5]) / 35
    # The outcome's UPDATE; the token, the breaker and the call records cost nothing per row.
    assert per_row <= 1 + 2 / 35, counts
    assert counts[5] <= 5 + 16, counts


@pytest.mark.django_db
def test_an_install_webhook_costs_a_few_queries(wix):
    counts = {}
    for n, tag in ((5, "aa"), (20, "bb")):
        _installs(n, tag)
        counts[n] = _drain_queries("webhook_receipt")
    assert set(WebhookReceipt.objects.values_list("status", flat=True)) == {Receipt.PROCESSED}
    # A token per new instance, the instance and the site properties, all recorded.
    assert IntegrationCall.objects.filter(ok=True).count() == 3 * 25
    per_row = (counts[20] - counts[5]) / 15
    # The business created (its lookup under lock and the insert), the new instance's token
    # row (read, lock wait limit, insert, lock, write), the details, the plan, the outcome;
    # 5 of these are savepoints and a lock-limit restore only inside the test's transaction.
    assert per_row <= 17.5, counts
