"""Scheduled jobs: expiry at the end of the valid-until day, reminders once per rule."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from proposals import services
from proposals.delivery import tasks
from proposals.delivery.jobs import proposals_expire_due, reminders_send_due
from proposals.models import Activity, Delivery, Proposal, ProposalSettings, ProposalVersion
from tests.accounts.factories import BusinessFactory
from tests.proposals.factories import make_sent_proposal

pytestmark = pytest.mark.django_db


def sent_with_valid_until(valid_until: date, tz: str = "UTC", business=None) -> Proposal:
    business = business or BusinessFactory(timezone=tz)
    proposal, _ = make_sent_proposal(business=business)
    Proposal.objects.filter(pk=proposal.pk).update(valid_until=valid_until)
    return proposal


@pytest.mark.parametrize(
    ("tz", "not_yet", "past"),
    [
        # valid until 20 November: the day ends at 21 Nov 00:00 local time.
        ("America/Los_Angeles", datetime(2026, 11, 21, 7, 59, tzinfo=UTC),
         datetime(2026, 11, 21, 8, 1, tzinfo=UTC)),
        ("Pacific/Auckland", datetime(2026, 11, 20, 10, 59, tzinfo=UTC),
         datetime(2026, 11, 20, 11, 1, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_a_proposal_expires_at_the_end_of_its_day_in_the_business_timezone(tz, not_yet, past):
    proposal = sent_with_valid_until(date(2026, 11, 20), tz)
    assert proposals_expire_due(now=not_yet) == 0
    assert proposals_expire_due(now=past) == 1
    assert proposals_expire_due(now=past) == 0
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.EXPIRED
    assert Activity.objects.filter(proposal=proposal, kind=Activity.Kind.EXPIRED).count() == 1


def test_expiry_works_in_bounded_batches(settings):
    settings.DELIVERY_JOB_BATCH_SIZE = 2
    settings.DELIVERY_JOB_MAX_BATCHES = 1
    business = BusinessFactory()
    for day in (1, 2, 3):
        sent_with_valid_until(date(2026, 1, day), business=business)
    now = datetime(2026, 2, 1, tzinfo=UTC)
    assert proposals_expire_due(now=now) == 2
    assert proposals_expire_due(now=now) == 1
    assert proposals_expire_due(now=now) == 0


def test_not_yet_due_proposals_do_not_block_the_due_ones(settings):
    settings.DELIVERY_JOB_BATCH_SIZE = 1
    settings.DELIVERY_JOB_MAX_BATCHES = 5
    now = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
    waiting = sent_with_valid_until(date(2026, 11, 20), "America/Los_Angeles")
    due = sent_with_valid_until(date(2026, 11, 20), "UTC")
    assert proposals_expire_due(now=now) == 1
    waiting.refresh_from_db()
    due.refresh_from_db()
    assert (waiting.status, due.status) == (Proposal.Status.SENT, Proposal.Status.EXPIRED)


def test_the_expiry_task_runs_the_job():
    sent_with_valid_until(timezone.now().date() - timedelta(days=3))
    assert tasks.expire_proposals() == 1


def sent_days_ago(days: float, *, unopened: int | None = 3, unanswered: int | None = 7):
    business = BusinessFactory()
    if unopened is not None:
        ProposalSettings.objects.create(
            business=business,
            remind_unopened_after_days=unopened,
            remind_unanswered_after_days=unanswered,
        )
    proposal, version = make_sent_proposal(business=business)
    ProposalVersion.objects.filter(pk=version.pk).update(
        sent_at=timezone.now() - timedelta(days=days)
    )
    version.refresh_from_db()
    return proposal, version


def reminders(proposal) -> list[Delivery]:
    return list(Delivery.objects.filter(proposal=proposal, kind=Delivery.Kind.REMINDER))


def test_an_unopened_proposal_gets_one_reminder_after_the_configured_days():
    early, _ = sent_days_ago(1.9, unopened=2, unanswered=5)
    proposal, version = sent_days_ago(2.1, unopened=2, unanswered=5)
    assert reminders_send_due() == 1
    assert reminders_send_due() == 0
    assert reminders(early) == []
    [delivery] = reminders(proposal)
    assert delivery.recipient == version.recipient_email
    assert delivery.version == version and delivery.context == {"rule": "unopened"}
    version.refresh_from_db()
    assert version.reminded_unopened_at is not None and version.reminded_unanswered_at is None
    reminded = Activity.objects.get(proposal=proposal, kind=Activity.Kind.REMINDED)
    assert reminded.actor_type == Activity.Actor.SYSTEM
    assert reminded.details["rule"] == "unopened"
    assert reminded.details["delivery_id"] == delivery.pk


def test_a_viewed_proposal_gets_the_unanswered_reminder_only():
    proposal, version = sent_days_ago(6, unopened=2, unanswered=5)
    services.proposal_mark_viewed(version=version, ip=None, user_agent="")
    assert reminders_send_due() == 1
    assert reminders_send_due() == 0
    version.refresh_from_db()
    assert version.reminded_unopened_at is None and version.reminded_unanswered_at is not None


def test_both_rules_due_together_send_one_reminder_that_day():
    proposal, version = sent_days_ago(8, unopened=2, unanswered=5)
    assert reminders_send_due() == 1
    assert len(reminders(proposal)) == 1
    # A day later the unanswered rule has its turn, once.
    later = timezone.now() + timedelta(days=1, minutes=1)
    assert reminders_send_due(now=later) == 1
    assert reminders_send_due(now=later) == 0
    assert len(reminders(proposal)) == 2


def test_zero_days_turns_a_rule_off():
    sent_days_ago(30, unopened=0, unanswered=0)
    assert reminders_send_due() == 0


def test_businesses_without_settings_use_the_defaults():
    sent_days_ago(2.9, unopened=None)
    proposal, _ = sent_days_ago(3.1, unopened=None)
    assert reminders_send_due() == 1
    assert len(reminders(proposal)) == 1


def test_no_reminder_after_an_answer_or_a_withdraw():
    accepted, version = sent_days_ago(10)
    services.proposal_accept(
        version=version, signed_name="Jane", agreed=True, selected_item_keys=[], ip=None,
        user_agent="",
    )  # fmt: skip
    withdrawn, _ = sent_days_ago(10)
    services.proposal_withdraw(proposal=withdrawn, acting_user=None)
    assert reminders_send_due() == 0


def test_a_new_version_gets_its_own_reminders():
    proposal, version = sent_days_ago(4)
    assert reminders_send_due() == 1
    second = services.proposal_send(proposal=proposal, acting_user=None)
    ProposalVersion.objects.filter(pk=second.pk).update(sent_at=timezone.now() - timedelta(days=4))
    assert reminders_send_due() == 1
    assert {d.version_id for d in reminders(proposal)} == {version.pk, second.pk}


def test_reminders_work_in_bounded_batches(settings):
    settings.DELIVERY_JOB_BATCH_SIZE = 2
    settings.DELIVERY_JOB_MAX_BATCHES = 1
    for _ in range(3):
        sent_days_ago(4)
    assert reminders_send_due() == 2
    assert reminders_send_due() == 1
    assert tasks.send_reminders() == 0
