"""Scheduled jobs: reminders once per rule (expiry is in test_expiry_job.py)."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from accounts.models import Business
from common.outbox.drain import DRAIN_TASK, forget_queued_drains
from proposals import services
from proposals.delivery import tasks
from proposals.delivery.jobs import reminders_send_due
from proposals.delivery.services import deliveries_cancel_open, delivery_record
from proposals.models import Activity, Delivery, Proposal, ProposalSettings, ProposalVersion
from proposals.reminders import reminders_reschedule
from tests.accounts.factories import BusinessFactory
from tests.concurrency import run_concurrently
from tests.proposals.dated_proposals import backdate, sent_days_ago
from tests.proposals.factories import make_sent_proposal

pytestmark = pytest.mark.django_db


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
    backdate(second, 4)
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


def _due_for_reminders(count: int) -> list[Proposal]:
    business = BusinessFactory.create(plan=Business.Plan.PAID)
    due = []
    for _ in range(count):
        proposal, version = make_sent_proposal(business=business)
        ProposalVersion.objects.filter(pk=version.pk).update(
            sent_at=timezone.now() - timedelta(days=4)
        )
        due.append(proposal)
    reminders_reschedule(business_id=business.pk)
    return due


@pytest.mark.parametrize("count", [5, 50])
def test_reminders_issue_the_same_queries_for_5_and_50_due_proposals(
    count, settings, django_assert_num_queries, django_capture_on_commit_callbacks
):
    settings.DELIVERY_JOB_BATCH_SIZE = 100
    _due_for_reminders(5)
    with CaptureQueriesContext(connection) as five:
        with django_capture_on_commit_callbacks(execute=True):
            reminders_send_due()
    forget_queued_drains()  # else the second run's drain request coalesces into the first
    OrmQ.objects.all().delete()
    due = _due_for_reminders(count)
    # On SQLite too: its backend takes SQLite's own parameter limit, not Django's 999, so the
    # 50 deliveries' bulk INSERT (20 columns) is not split in two (common/backends/sqlite3).
    with django_assert_num_queries(len(five.captured_queries)):
        with django_capture_on_commit_callbacks(execute=True):
            assert reminders_send_due() == count
    # Each reminder: its delivery and its timeline row; one drain for all of them.
    sent = Delivery.objects.filter(proposal__in=due, kind=Delivery.Kind.REMINDER)
    assert sent.count() == count
    drains = [SignedPackage.loads(row.payload) for row in OrmQ.objects.all()]
    assert [(task["func"], task["args"]) for task in drains] == [(DRAIN_TASK, ("delivery",))]
    assert Activity.objects.filter(proposal__in=due, kind=Activity.Kind.REMINDED).count() == count


def test_a_business_with_reminders_off_gets_none_even_for_proposals_sent_before():
    proposal, version = sent_days_ago(30)
    services.settings_update(
        business=proposal.business, acting_user=None, brand_name="", brand_color="#116dff",
        remind_unopened_after_days=0, remind_unanswered_after_days=0, default_currency="USD",
    )  # fmt: skip
    assert reminders_send_due() == 0
    assert reminders(proposal) == []


def test_changing_the_reminder_days_applies_to_proposals_already_sent():
    proposal, version = sent_days_ago(2.5)  # default 3 days: not due yet
    assert reminders_send_due() == 0
    services.settings_update(
        business=proposal.business, acting_user=None, brand_name="", brand_color="#116dff",
        remind_unopened_after_days=2, remind_unanswered_after_days=9, default_currency="USD",
    )  # fmt: skip
    assert reminders_send_due() == 1
    [delivery] = reminders(proposal)
    assert delivery.context == {"rule": "unopened"}
    # Changing again does not bring back a rule that already fired for this version.
    services.settings_update(
        business=proposal.business, acting_user=None, brand_name="", brand_color="#116dff",
        remind_unopened_after_days=1, remind_unanswered_after_days=9, default_currency="USD",
    )  # fmt: skip
    assert reminders_send_due(now=timezone.now() + timedelta(days=2)) == 0


def test_sending_schedules_the_rules_from_the_business_settings():
    business = BusinessFactory()
    ProposalSettings.objects.create(
        business=business, remind_unopened_after_days=2, remind_unanswered_after_days=0
    )
    proposal, version = make_sent_proposal(business=business)
    assert proposal.remind_unopened_due_at == version.sent_at + timedelta(days=2)
    assert proposal.remind_unanswered_due_at is None  # 0 days: off


def test_answering_viewing_and_withdrawing_clear_what_can_no_longer_fire():
    viewed, version = sent_days_ago(1)
    services.proposal_mark_viewed(version=version, ip=None, user_agent="")
    viewed.refresh_from_db()
    assert viewed.remind_unopened_due_at is None and viewed.remind_unanswered_due_at
    withdrawn, _ = sent_days_ago(1)
    services.proposal_withdraw(proposal=withdrawn, acting_user=None)
    withdrawn.refresh_from_db()
    assert (withdrawn.remind_unopened_due_at, withdrawn.remind_unanswered_due_at) == (None, None)


def test_a_due_time_left_on_a_closed_proposal_is_dropped_without_a_reminder():
    # Belt and braces: whatever left a due time behind, the job re-checks and clears it.
    proposal, _ = sent_days_ago(10)
    Proposal.objects.filter(pk=proposal.pk).update(status=Proposal.Status.DECLINED)
    assert reminders_send_due() == 0
    proposal.refresh_from_db()
    assert (proposal.remind_unopened_due_at, proposal.remind_unanswered_due_at) == (None, None)


def test_an_uninstalled_business_gets_no_reminders():
    proposal, _ = sent_days_ago(10)
    Business.objects.filter(pk=proposal.business_id).update(status=Business.Status.UNINSTALLED)
    assert reminders_send_due() == 0


def test_the_migration_fills_due_times_of_open_proposals_from_their_settings():
    fill = import_module("proposals.migrations.0003_scale_jobs").fill_due_times
    custom, custom_version = sent_days_ago(1, unopened=5, unanswered=0)
    default, default_version = sent_days_ago(1, unopened=None)
    services.proposal_mark_viewed(version=default_version, ip=None, user_agent="")
    Proposal.objects.update(remind_unopened_due_at=None, remind_unanswered_due_at=None)
    fill(django_apps, None)
    custom.refresh_from_db()
    default.refresh_from_db()
    assert custom.remind_unopened_due_at == custom_version.sent_at + timedelta(days=5)
    assert custom.remind_unanswered_due_at is None
    assert default.remind_unopened_due_at is None  # viewed: only "unanswered" can fire
    assert default.remind_unanswered_due_at == default_version.sent_at + timedelta(days=7)


@pytest.mark.django_db(transaction=True)
def test_concurrent_reminder_runs_send_each_reminder_once():
    due = _due_for_reminders(8)
    results = run_concurrently(reminders_send_due, 3)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 8
    assert Delivery.objects.filter(proposal__in=due, kind=Delivery.Kind.REMINDER).count() == 8


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bulk SQL for PostgreSQL seeds")
def test_scheduling_every_open_proposal_at_once_matches_the_per_business_rules():
    from proposals.reminders import reminders_schedule_all

    custom, _ = sent_days_ago(1, unopened=5, unanswered=0)
    default, version = sent_days_ago(1, unopened=None)
    services.proposal_mark_viewed(version=version, ip=None, user_agent="")
    expected = list(
        Proposal.objects.order_by("pk").values_list(
            "remind_unopened_due_at", "remind_unanswered_due_at"
        )
    )
    Proposal.objects.update(remind_unopened_due_at=None, remind_unanswered_due_at=None)
    with connection.cursor() as cursor:
        assert reminders_schedule_all(cursor) == 2
    assert expected == list(
        Proposal.objects.order_by("pk").values_list(
            "remind_unopened_due_at", "remind_unanswered_due_at"
        )
    )


def test_cancelling_open_deliveries_touches_only_the_unsent_proposal_and_reminder_emails():
    proposal, version = make_sent_proposal()
    other, _ = make_sent_proposal(business=proposal.business)
    reminder = delivery_record(
        business=proposal.business, kind=Delivery.Kind.REMINDER, recipient="c@example.com",
        idempotency_key="reminder:test", proposal=proposal, version=version,
    )  # fmt: skip
    Delivery.objects.filter(pk=reminder.pk).update(state=Delivery.State.FAILED_RETRYING)
    sent = delivery_record(
        business=proposal.business, kind=Delivery.Kind.REMINDER, recipient="c@example.com",
        idempotency_key="reminder:sent", proposal=proposal, version=version,
    )  # fmt: skip
    Delivery.objects.filter(pk=sent.pk).update(state=Delivery.State.SENT)
    owner = delivery_record(
        business=proposal.business, kind=Delivery.Kind.OWNER_VIEWED, recipient="o@example.com",
        idempotency_key="owner:test", proposal=proposal, version=version,
    )  # fmt: skip

    assert deliveries_cancel_open(proposal_ids=[proposal.pk], now=timezone.now()) == 2

    states = dict(Delivery.objects.values_list("pk", "state"))
    first = Delivery.objects.get(proposal=proposal, kind=Delivery.Kind.PROPOSAL)
    assert states[first.pk] == states[reminder.pk] == Delivery.State.CANCELLED
    assert states[sent.pk] == Delivery.State.SENT
    assert states[owner.pk] == Delivery.State.PENDING
    assert Delivery.objects.get(proposal=other).state == Delivery.State.PENDING
