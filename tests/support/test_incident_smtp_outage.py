"""The runbook's scripted incident (docs/runbook.md, "Walk-through: SMTP outage"), end to end.

The mail server refuses every message (421) until it recovers; the admin shows the failures
where the runbook says; a bulk retry after recovery sends each email exactly once.
"""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import StaffAction
from proposals.delivery.sending import delivery_execute
from proposals.models import Delivery
from tests.proposals.factories import ClientFactory, make_sent_proposal

pytestmark = pytest.mark.django_db


def _drain() -> list[str]:
    """Run every due delivery until none is due, as the workers and the sweeper would."""
    outcomes = []
    for _ in range(10):
        due = list(
            Delivery.objects.filter(
                state__in=(Delivery.State.PENDING, Delivery.State.FAILED_RETRYING)
            ).values_list("pk", flat=True)
        )
        if not due:
            break
        outcomes += [delivery_execute(pk) for pk in due]
    return outcomes


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def test_smtp_outage_then_bulk_retry(
    support_client, business, other_business, smtp_server, settings
):
    settings.DELIVERY_MAX_ATTEMPTS = 2
    # 1. The outage: the mail server answers every message with 421.
    smtp_server.data_script[:] = ["421 Service not available, closing channel"] * 100
    for owner in (business, business, other_business):
        make_sent_proposal(client=ClientFactory(business=owner))
    assert _drain().count("failed_permanent") == 3
    assert smtp_server.received == []

    # 2. The admin index: the incidents overview counts them in the last hour.
    index = _text(support_client.get(reverse("admin:index")))
    assert re.search(r"Deliveries failed</th> <td[^>]*><a [^>]*>3</a>", index)
    assert re.search(r"Delivery attempts failed</th> <td[^>]*><a [^>]*>6</a>", index)

    # 3. The business page shows each failure with its reason.
    page = _text(support_client.get(reverse("admin:accounts_business_support", args=[business.pk])))
    assert page.count("mail server temporarily unavailable (gave up after 2 attempts)") == 2
    assert re.search(r"deliveries: <strong class=\"support-bad\">2</strong>", page)
    failed = Delivery.objects.filter(business=business).first()
    detail = _text(support_client.get(reverse("admin:proposals_delivery_change", args=[failed.pk])))
    assert len(re.findall(r'field-smtp_code"> <p>421</p>', detail)) == 2, detail[-6000:]

    # 4. The mail server recovers; the confirmation page states how many will be retried.
    smtp_server.data_script.clear()
    since = timezone.now() - timedelta(hours=1)
    until = timezone.now() + timedelta(minutes=1)
    window = {"since": since.isoformat(), "until": until.isoformat()}
    confirm = _text(support_client.get(reverse("support-bulk-retry"), window))
    assert "This will retry 3 failed deliveries across 2 businesses" in confirm
    response = support_client.post(reverse("support-bulk-retry"), {**window, "expected": "3"})
    assert response.status_code == 302

    # 5. The workers send each email once; the audit log has the bulk action and each retry.
    assert _drain() == ["sent"] * 3
    assert len(smtp_server.received) == 3
    assert Delivery.objects.filter(state=Delivery.State.SENT).count() == 3
    assert StaffAction.objects.filter(action="delivery_retry", outcome="ok").count() == 3
    assert StaffAction.objects.filter(action="deliveries_bulk_retry", outcome="ok").count() == 1

    # 6. A second bulk retry finds nothing; retrying a sent one is refused: no second email.
    confirm = _text(support_client.get(reverse("support-bulk-retry"), window))
    assert "This will retry 0 failed deliveries" in confirm
    sent = Delivery.objects.filter(business=business).first()
    support_client.post(
        reverse("admin:accounts_business_support", args=[business.pk]),
        {"action": "retry_delivery", "target": sent.pk},
    )
    assert _drain() == []
    assert len(smtp_server.received) == 3
    index = _text(support_client.get(reverse("admin:index")))
    assert re.search(r"Deliveries failed</th> <td[^>]*><a [^>]*>0</a>", index)
