"""Through real `qcluster` worker processes: the token lock and the webhook pipeline hold."""

import time

import pytest
from django_q.tasks import async_task

from accounts.models import Business
from integrations.models import WebhookReceipt
from integrations.wix.standin.webhooks import sign_webhook, webhook_claims
from tests.accounts.factories import BusinessFactory
from tests.integrations.conftest import APP_ID, APP_SECRET


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


@pytest.fixture
def worker_env(wix):
    return {
        "WIX_API_BASE_URL": wix.url,
        "WIX_APP_ID": APP_ID,
        "WIX_APP_SECRET": APP_SECRET,
        "Q_WORKERS": "4",
    }


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_twenty_tasks_in_four_worker_processes_request_one_token(wix, worker_env, start_qcluster):
    business = BusinessFactory()
    wix.faults(latency_ms=100)  # keep several workers waiting on the token at once
    for _ in range(20):
        async_task("integrations.tasks.refresh_business", business.pk)
    start_qcluster(**worker_env)
    wait_for(lambda: wix.count("GET /site-properties/v4/properties") == 20)
    assert wix.count("POST /oauth2/token") == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_install_webhook_is_processed_by_a_real_worker(client, wix, worker_env, start_qcluster):
    wix.seed(instance_id="worker-instance-0001", site_name="Worker Site")
    start_qcluster(**worker_env)
    token = sign_webhook(
        webhook_claims(event_type="AppInstalled", instance_id="worker-instance-0001")
    )
    response = client.post("/integrations/wix/webhooks/", data=token, content_type="text/plain")
    assert response.status_code == 200
    wait_for(lambda: WebhookReceipt.objects.filter(status=WebhookReceipt.Status.PROCESSED).exists())
    assert Business.objects.get(instance_id="worker-instance-0001").site_name == "Worker Site"
