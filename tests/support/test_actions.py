from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.audit import ActionRefused
from accounts.models import StaffAction
from integrations.models import CircuitBreaker, WebhookReceipt, WixAccessToken
from integrations.support import (
    support_breaker_reset,
    support_token_refresh,
    support_webhook_replay,
)
from proposals.delivery.sending import delivery_execute
from proposals.models import Delivery
from proposals.support import (
    bulk_retry_preview,
    support_deliveries_bulk_retry,
    support_delivery_retry,
    support_proposal_resend_link,
)
from tests.proposals.factories import make_proposal, make_sent_proposal
from tests.support.factories import BreakerFactory, DeliveryFactory, ReceiptFactory

pytestmark = pytest.mark.django_db


def _actions(**filters):
    return list(StaffAction.objects.filter(**filters).values_list("action", "outcome"))


def test_retrying_a_failed_delivery_queues_it_again_and_is_audited(support_user):
    delivery = DeliveryFactory(state=Delivery.State.FAILED_PERMANENT, attempt_count=5)
    support_delivery_retry(delivery=delivery, acting_user=support_user)
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.PENDING
    assert delivery.attempt_count == 0
    assert delivery.retried_by == support_user
    assert _actions() == [("delivery_retry", "ok")]


def test_retrying_a_sent_delivery_is_refused_and_sends_no_second_email(support_user, smtp_server):
    proposal, _ = make_sent_proposal()
    delivery = Delivery.objects.get(proposal=proposal)
    assert delivery_execute(delivery.pk) == "sent"
    assert len(smtp_server.received) == 1
    delivery.refresh_from_db()

    with pytest.raises(ActionRefused, match="already sent"):
        support_delivery_retry(delivery=delivery, acting_user=support_user)
    # Even a worker running now finds nothing to send.
    assert delivery_execute(delivery.pk) == "skipped"
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.SENT
    assert len(smtp_server.received) == 1
    assert _actions() == [("delivery_retry", "refused")]


def test_a_cancelled_delivery_is_not_retried(support_user):
    delivery = DeliveryFactory(state=Delivery.State.CANCELLED)
    with pytest.raises(ActionRefused):
        support_delivery_retry(delivery=delivery, acting_user=support_user)
    assert _actions() == [("delivery_retry", "refused")]


def test_resending_the_link_records_a_new_delivery_of_the_current_version(
    support_user, smtp_server
):
    proposal, version = make_sent_proposal()
    first = Delivery.objects.get(proposal=proposal)
    delivery_execute(first.pk)

    resent = support_proposal_resend_link(proposal=proposal, acting_user=support_user)
    assert resent.pk != first.pk
    assert resent.version_id == version.pk
    assert resent.idempotency_key != first.idempotency_key
    assert delivery_execute(resent.pk) == "sent"
    assert len(smtp_server.received) == 2
    assert version.token in smtp_server.received[1].text
    assert _actions() == [("proposal_resend_link", "ok")]


def test_resending_a_draft_is_refused(support_user):
    proposal = make_proposal()
    with pytest.raises(ActionRefused, match="never sent"):
        support_proposal_resend_link(proposal=proposal, acting_user=support_user)
    assert _actions(business=proposal.business) == [("proposal_resend_link", "refused")]


def test_bulk_retry_retries_failures_of_the_window_only_and_audits_each(support_user):
    now = timezone.now()
    inside = DeliveryFactory.create_batch(3, state=Delivery.State.FAILED_PERMANENT)
    outside = DeliveryFactory(state=Delivery.State.FAILED_PERMANENT)
    Delivery.objects.filter(pk=outside.pk).update(updated_at=now - timedelta(days=2))
    sent = DeliveryFactory(state=Delivery.State.SENT)
    since, until = now - timedelta(hours=1), now + timedelta(minutes=1)

    assert bulk_retry_preview(since=since, until=until)["total"] == 3
    result = support_deliveries_bulk_retry(
        since=since, until=until, expected=3, acting_user=support_user
    )
    assert (result.retried, result.total) == (3, 3)
    states = dict(Delivery.objects.values_list("pk", "state"))
    assert {states[d.pk] for d in inside} == {Delivery.State.PENDING}
    assert states[outside.pk] == Delivery.State.FAILED_PERMANENT
    assert states[sent.pk] == Delivery.State.SENT
    assert sorted(_actions()) == sorted(
        [("delivery_retry", "ok")] * 3 + [("deliveries_bulk_retry", "ok")]
    )


def test_bulk_retry_refuses_when_the_count_changed_since_confirmation(support_user):
    DeliveryFactory.create_batch(2)
    now = timezone.now()
    with pytest.raises(ActionRefused, match="now holds 2"):
        support_deliveries_bulk_retry(
            since=now - timedelta(hours=1),
            until=now + timedelta(minutes=1),
            expected=1,
            acting_user=support_user,
        )
    assert Delivery.objects.filter(state=Delivery.State.PENDING).count() == 0
    assert _actions() == [("deliveries_bulk_retry", "refused")]


def test_replaying_a_failed_webhook_queues_it_once(support_user):
    receipt = ReceiptFactory(status=WebhookReceipt.Status.FAILED, attempt_count=10)
    support_webhook_replay(receipt=receipt, acting_user=support_user)
    receipt.refresh_from_db()
    assert (receipt.status, receipt.attempt_count, receipt.last_error) == ("pending", 0, "")
    assert receipt.next_attempt_at <= timezone.now()  # due now, its age counted from now
    assert receipt.retried_at == receipt.next_attempt_at
    with pytest.raises(ActionRefused, match="already queued"):
        support_webhook_replay(receipt=receipt, acting_user=support_user)
    assert _actions() == [("webhook_replay", "refused"), ("webhook_replay", "ok")]


def test_a_rejected_webhook_is_never_replayed(support_user):
    receipt = ReceiptFactory(
        status=WebhookReceipt.Status.REJECTED, verified=False, rejected_reason="bad_signature"
    )
    with pytest.raises(ActionRefused, match="never verified"):
        support_webhook_replay(receipt=receipt, acting_user=support_user)
    receipt.refresh_from_db()
    assert receipt.status == WebhookReceipt.Status.REJECTED


def test_resetting_an_open_breaker_closes_it_and_a_closed_one_is_refused(support_user):
    circuit = BreakerFactory()
    support_breaker_reset(circuit=circuit, acting_user=support_user)
    circuit.refresh_from_db()
    assert (circuit.state, circuit.consecutive_failures) == (CircuitBreaker.State.CLOSED, 0)
    with pytest.raises(ActionRefused, match="already closed"):
        support_breaker_reset(circuit=circuit, acting_user=support_user)
    assert _actions() == [("wix_breaker_reset", "refused"), ("wix_breaker_reset", "ok")]


def test_refreshing_a_token_fetches_a_new_one_without_recording_it(
    support_user, wix, business, log_events
):
    wix.seed(instance_id=business.instance_id)
    WixAccessToken.objects.create(
        instance_id=business.instance_id,
        access_token="old-token-value",
        expires_at=timezone.now() + timedelta(hours=3),
    )
    support_token_refresh(business=business, acting_user=support_user)
    token = WixAccessToken.objects.get(instance_id=business.instance_id)
    assert token.access_token and token.access_token != "old-token-value"
    row = StaffAction.objects.get()
    assert (row.action, row.outcome) == ("wix_token_refresh", "ok")
    assert token.access_token not in str(row.__dict__)
    assert token.access_token not in repr(log_events)


def test_a_token_refresh_wix_refuses_is_audited_as_refused(support_user, wix, business, settings):
    settings.WIX_APP_SECRET = "not-the-secret"  # Wix refuses the credentials for good
    with pytest.raises(ActionRefused, match="Wix refused"):
        support_token_refresh(business=business, acting_user=support_user)
    assert _actions() == [("wix_token_refresh", "refused")]


@pytest.mark.parametrize(
    "query",
    ["?since=2024-13-45T00:00", "?business=abc", "?until=9999-99-99T99:99"],
)
def test_bulk_retry_page_survives_malformed_parameters(support_client, query):
    response = support_client.get("/admin/support/bulk-retry/" + query)
    assert response.status_code in (200, 404)


def test_a_support_action_with_a_malformed_target_is_a_404(support_client, business):
    url = f"/admin/accounts/business/{business.pk}/support/"
    response = support_client.post(url, {"action": "retry_delivery", "target": "abc"})
    assert response.status_code == 404
