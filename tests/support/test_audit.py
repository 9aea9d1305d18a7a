import pytest
import structlog

from accounts.audit import ActionRefused, audited
from accounts.models import StaffAction
from tests.support.factories import DeliveryFactory

pytestmark = pytest.mark.django_db


def test_a_successful_action_is_recorded_with_its_target_business_and_request_id(support_user):
    delivery = DeliveryFactory()
    with structlog.contextvars.bound_contextvars(request_id="req-audit-0001"):
        with audited(actor=support_user, action="delivery_retry", target=delivery) as entry:
            entry.message = "queued"
    row = StaffAction.objects.get()
    assert (row.actor, row.actor_email, row.action, row.outcome) == (
        support_user,
        support_user.email,
        "delivery_retry",
        StaffAction.Outcome.OK,
    )
    assert row.target_type.model == "delivery"
    assert row.target_id == str(delivery.pk)
    assert row.business_id == delivery.business_id
    assert row.request_id == "req-audit-0001"
    assert row.message == "queued"


def test_a_refused_action_is_recorded_and_the_refusal_reaches_the_caller(support_user):
    with pytest.raises(ActionRefused, match="already sent"):
        with audited(actor=support_user, action="delivery_retry"):
            raise ActionRefused("already sent", code="already_sent")
    row = StaffAction.objects.get()
    assert row.outcome == StaffAction.Outcome.REFUSED
    assert row.message == "already sent"
    assert row.details["code"] == "already_sent"


def test_an_action_that_crashes_is_recorded_as_an_error(support_user):
    with pytest.raises(RuntimeError):
        with audited(actor=support_user, action="wix_token_refresh"):
            raise RuntimeError("boom")
    row = StaffAction.objects.get()
    assert row.outcome == StaffAction.Outcome.ERROR
    assert "RuntimeError: boom" in row.message


def test_the_target_is_recorded_as_it_was_before_the_action(support_user):
    delivery = DeliveryFactory(state="failed_permanent")
    with audited(actor=support_user, action="delivery_retry", target=delivery):
        delivery.state = "pending"
    assert "(failed_permanent)" in StaffAction.objects.get().target_repr
