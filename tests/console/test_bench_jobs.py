"""bench_jobs: every scheduled job measured on the data, and the data left as it was."""

from datetime import date
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from console.management.commands.bench_jobs import scheduled_jobs
from proposals.delivery import schedules as delivery_schedules
from proposals.models import Activity, Proposal
from tests.proposals.dated_proposals import sent_with_valid_until

pytestmark = pytest.mark.django_db


def test_every_declared_schedule_is_benchmarked():
    jobs = scheduled_jobs()
    assert set(delivery_schedules.SCHEDULES) <= set(jobs)
    assert "outbox: sweep" in jobs and "console: retention" in jobs


@pytest.mark.skipif(connection.vendor != "postgresql", reason="bench_jobs measures PostgreSQL")
def test_jobs_do_their_work_and_the_data_is_left_unchanged():
    proposal = sent_with_valid_until(date(2020, 1, 1))
    out = StringIO()
    call_command("bench_jobs", "--batches", "2", stdout=out)
    text = out.getvalue()
    # The expiry job found the due proposal: the whole run expired one.
    assert "| proposals: expire |" in text
    row = next(line for line in text.splitlines() if line.startswith("| proposals: expire |"))
    assert row.split("|")[4].strip() == "1"
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT
    assert not Activity.objects.filter(proposal=proposal, kind=Activity.Kind.EXPIRED).exists()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="checks the SQLite refusal")
def test_refuses_sqlite():
    with pytest.raises(CommandError, match="PostgreSQL"):
        call_command("bench_jobs")
