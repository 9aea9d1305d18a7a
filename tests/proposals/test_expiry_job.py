"""Scheduled jobs: expiry at the end of the valid-until day, in bounded batches, once."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Business
from proposals.delivery import tasks
from proposals.delivery.jobs import proposals_expire_due
from proposals.models import Activity, Proposal
from tests.accounts.factories import BusinessFactory
from tests.concurrency import run_concurrently
from tests.proposals.dated_proposals import sent_with_valid_until

pytestmark = pytest.mark.django_db


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


# --- set-based: a constant number of queries per batch, whatever its size -----------------


def _queries(fn) -> int:
    with CaptureQueriesContext(connection) as ctx:
        fn()
    return len(ctx.captured_queries)


def _due_for_expiry(count: int) -> None:
    business = BusinessFactory(plan=Business.Plan.PAID)
    for _ in range(count):
        sent_with_valid_until(date(2026, 1, 1), business=business)


@pytest.mark.parametrize("count", [5, 50])
def test_expiry_issues_the_same_queries_for_5_and_50_due_proposals(
    count, settings, django_assert_num_queries
):
    settings.DELIVERY_JOB_BATCH_SIZE = 100
    _due_for_expiry(5)
    five = _queries(lambda: proposals_expire_due(now=datetime(2026, 2, 1, tzinfo=UTC)))
    _due_for_expiry(count)
    with django_assert_num_queries(five):
        assert proposals_expire_due(now=datetime(2026, 2, 1, tzinfo=UTC)) == count
    assert Activity.objects.filter(kind=Activity.Kind.EXPIRED).count() == 5 + count


@pytest.mark.django_db(transaction=True)
def test_concurrent_expiry_runs_expire_each_proposal_once():
    _due_for_expiry(8)
    now = datetime(2026, 2, 1, tzinfo=UTC)
    results = run_concurrently(lambda: proposals_expire_due(now=now), 3)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(results) == 8
    assert Activity.objects.filter(kind=Activity.Kind.EXPIRED).count() == 8
