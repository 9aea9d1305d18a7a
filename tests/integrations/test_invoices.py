"""An accepted proposal's payments as invoices in the business's Wix site, through the outbox:
exactly one Wix invoice per payment whatever is lost on the way, sent when due, payment status
read back, and a site without Wix Invoices told why."""

import math
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.utils import timezone

from common import outbox
from integrations.models import WixInvoice
from integrations.wix.client import WixClient
from tests.accounts.factories import BusinessFactory
from tests.integrations.invoicing import (
    CREATE,
    KIND,
    Payment,
    State,
    Step,
    due_now,
    fresh,
    invoice_calls,
    schedule,
    site_of,
)


@pytest.mark.django_db
def test_the_deposit_is_created_published_and_sent_and_a_later_payment_waits_for_its_day(
    wix, accepted
):
    deposit, milestone = schedule(accepted, 30)

    totals = outbox.drain(KIND)

    assert totals["sent"] == 1 and totals["published"] == 1
    site = site_of(wix, accepted)
    held = {i["id"]: i for i in site.stored_invoices()}
    assert len(held) == 2
    deposit, milestone = fresh(deposit), fresh(milestone)
    assert held[deposit.wix_invoice_id]["lineItems"][0]["customItem"]["price"] == "250.50"
    assert held[deposit.wix_invoice_id]["status"] == "PUBLISHED"
    assert [s["invoiceId"] for s in site.sends()] == [deposit.wix_invoice_id]
    assert (deposit.step, deposit.state, deposit.number) == (Step.WATCH, State.PENDING, "INV-0001")
    assert deposit.sent_at is not None and deposit.payment == Payment.UNPAID
    # Published now, sent when due.
    assert (milestone.step, milestone.state, milestone.sent_at) == (Step.SEND, State.PENDING, None)
    assert milestone.next_attempt_at == milestone.due_at
    assert outbox.drain(KIND)["claimed"] == 0  # nothing due until then


@pytest.mark.django_db
def test_recording_the_schedule_twice_keeps_one_row_per_payment(wix, accepted):
    schedule(accepted, 30)
    schedule(accepted, 30)
    assert WixInvoice.objects.filter(acceptance=accepted).count() == 2


@pytest.mark.django_db
def test_a_create_whose_answer_is_lost_after_wix_created_it_is_adopted_not_repeated(wix, accepted):
    [deposit] = schedule(accepted)
    wix.faults(drop_after_next=1, paths=CREATE)

    assert outbox.drain(KIND)["retry"] == 1
    row = fresh(deposit)
    assert row.state == State.PENDING and row.wix_invoice_id == ""
    assert row.create_attempted_at is not None
    site = site_of(wix, accepted)
    assert len(site.stored_invoices()) == 1  # Wix did create it
    assert wix.count("POST /invoices/v4/invoices") == 1  # and the client did not retry blind

    due_now(deposit)
    assert outbox.drain(KIND)["sent"] == 1

    [held] = site.stored_invoices()
    assert fresh(deposit).wix_invoice_id == held["id"]
    assert wix.count("POST /invoices/v4/invoices") == 1
    assert len(site.sends()) == 1


@pytest.mark.django_db
def test_a_worker_killed_between_the_create_and_its_record_leaves_one_invoice(
    wix, accepted, monkeypatch
):
    from integrations import invoice_steps

    class Killed(BaseException):
        pass

    def killed(row, invoice):
        raise Killed

    [deposit] = schedule(accepted)
    monkeypatch.setattr(invoice_steps, "_record_created", killed)
    with pytest.raises(Killed):
        outbox.drain(KIND)
    monkeypatch.undo()
    row = fresh(deposit)
    assert row.state == State.WORKING and row.wix_invoice_id == ""

    report = outbox.sweep(now=row.claimed_until + timedelta(seconds=1))[KIND]
    assert report["recovered"] == 1
    due_now(deposit)
    assert outbox.drain(KIND)["sent"] == 1

    site = site_of(wix, accepted)
    assert len(site.stored_invoices()) == 1 and len(site.sends()) == 1
    assert wix.count("POST /invoices/v4/invoices") == 1


@pytest.mark.parametrize("step", ["publish", "send"])
@pytest.mark.django_db
def test_an_answer_lost_after_a_publish_or_a_send_is_not_repeated(wix, accepted, step):
    _, milestone = schedule(accepted, 30)
    if step == "publish":
        wix.faults(drop_after_next=2, paths=["/invoices/v4/invoices/"])  # after the create
        assert outbox.drain(KIND)["retry"] == 2
        due_now(*WixInvoice.objects.all())
    else:
        outbox.drain(KIND)
        invoice_id = fresh(milestone).wix_invoice_id
        wix.faults(drop_after_next=1, paths=[f"/invoices/v4/invoices/{invoice_id}/send$"])
        due_now(milestone)
        assert outbox.drain(KIND)["retry"] == 1
        due_now(milestone)

    outbox.drain(KIND)

    site = site_of(wix, accepted)
    held = site.stored_invoices()
    assert len(held) == 2 and {i["status"] for i in held} == {"PUBLISHED"}
    assert sorted(i["numbering"]["displayNumber"] for i in held) == ["INV-0001", "INV-0002"]
    rows = WixInvoice.objects.order_by("position")
    assert [r.state for r in rows] == [State.PENDING, State.PENDING]
    if step == "send":
        assert fresh(milestone).step == Step.WATCH
        assert [s["invoiceId"] for s in site.sends()].count(fresh(milestone).wix_invoice_id) == 1
    assert len(site.sends()) == len({s["invoiceId"] for s in site.sends()})


@pytest.mark.django_db
def test_a_site_without_wix_invoices_fails_the_payment_with_a_reason_and_no_retries(wix, accepted):
    wix.seed(instance_id=accepted.business.instance_id, invoices_access="not_migrated")
    [deposit] = schedule(accepted)

    assert outbox.drain(KIND)["failed"] == 1

    row = fresh(deposit)
    assert row.state == State.FAILED and row.next_attempt_at is None
    assert "not yet available on this site" in row.last_error
    assert wix.count("POST /invoices/v4/invoices") == 1


@pytest.mark.django_db
def test_wix_down_keeps_the_payment_for_later_and_it_goes_out_once_wix_answers(wix, accepted):
    [deposit] = schedule(accepted)
    wix.faults(outage=True)

    assert outbox.drain(KIND)["retry"] == 1
    row = fresh(deposit)
    assert row.state == State.PENDING and row.next_attempt_at > timezone.now()
    assert row.last_error

    wix.faults(outage=False)
    from integrations.wix import breaker

    breaker.forget()
    due_now(deposit)
    assert outbox.drain(KIND)["sent"] == 1
    assert len(site_of(wix, accepted).stored_invoices()) == 1


@pytest.mark.django_db
def test_a_day_long_wix_outage_stays_within_the_retry_budget_then_each_invoice_goes_out_once(
    wix, accepted, settings, monkeypatch, longest_backoff
):
    from common import ratelimit
    from integrations.wix import retry_budget

    # The budget alone must hold: the breaker, which would stop the calls sooner, stays closed.
    settings.WIX_BREAKER_THRESHOLD = 10_000
    settings.WIX_BACKOFF_BASE = settings.WIX_BACKOFF_CAP = 0.0  # the client's retries at once
    budget_clock = {"t": 60 * 29_000_000 + 1.0}  # the budget's minutes, moved with the retries
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: budget_clock["t"]))
    rows = schedule(accepted, 30, 60, 90, 120)  # five payments, each created in Wix at once
    first_attempts = len(rows)  # per try of the outbox: one call per payment, then its retries
    bound = first_attempts + math.ceil(
        retry_budget._BUDGET_FLOOR + settings.WIX_RETRY_BUDGET_RATIO * first_attempts
    )
    unbudgeted = first_attempts * settings.WIX_MAX_ATTEMPTS
    assert bound < unbudgeted  # the budget, not the attempt cap, is what this test meets
    wix.faults(outage=True, paths=["/invoices/v4/"])

    down_for, tries, outage_calls = timedelta(0), 0, 0
    while down_for < timedelta(days=1):
        before = invoice_calls(wix)
        assert outbox.drain(KIND)["retry"] == len(rows)
        made = invoice_calls(wix) - before
        assert made <= bound, f"try {tries + 1}: {made} calls, the budget allows {bound}"
        outage_calls += made
        tries += 1
        # On to the next try: the rows' own retry time, which is in a later budget minute.
        wait = min(fresh(r).next_attempt_at for r in rows) - timezone.now()
        down_for += wait
        budget_clock["t"] += max(wait.total_seconds(), 60.0)
        due_now(*rows)
    assert tries > 10 and outage_calls <= tries * bound
    assert {fresh(r).state for r in rows} == {State.PENDING}
    site = site_of(wix, accepted)
    assert site.stored_invoices() == []

    wix.faults()  # Wix is back
    due_now(*rows)
    totals = outbox.drain(KIND)

    assert (totals["sent"], totals["published"]) == (1, len(rows) - 1)
    held = site.stored_invoices()
    assert sorted(i["id"] for i in held) == sorted(fresh(r).wix_invoice_id for r in rows)
    deposit = fresh(rows[0])
    assert [s["invoiceId"] for s in site.sends()] == [deposit.wix_invoice_id]
    assert (deposit.step, deposit.state) == (Step.WATCH, State.PENDING)
    due_now(deposit)
    assert outbox.drain(KIND)["watched"] == 1  # its next try reads the payment, sends nothing
    assert len(site.stored_invoices()) == len(rows) and len(site.sends()) == 1


@pytest.mark.django_db
def test_a_client_not_yet_a_wix_contact_waits_without_calling_create(wix, accepted):
    client = accepted.proposal.client
    client.wix_contact_id = ""
    client.save(update_fields=["wix_contact_id"])
    [deposit] = schedule(accepted)

    assert outbox.drain(KIND)["retry"] == 1

    assert "contact" in fresh(deposit).last_error
    assert wix.count("POST /invoices/v4/invoices") == 0


@pytest.mark.django_db
def test_the_payment_status_is_read_back_until_paid(wix, accepted):
    [deposit] = schedule(accepted)
    outbox.drain(KIND)
    row = fresh(deposit)
    site = site_of(wix, accepted)

    assert site.pay(row.wix_invoice_id, "100.00").status_code == 200
    due_now(row)
    assert outbox.drain(KIND)["watched"] == 1
    row = fresh(deposit)
    assert (row.payment, row.paid_amount, row.state) == (
        Payment.PARTIALLY_PAID,
        Decimal("100.00"),
        State.PENDING,
    )
    assert row.next_attempt_at > timezone.now() + timedelta(hours=1)

    assert site.pay(row.wix_invoice_id, "150.50").status_code == 200
    due_now(row)
    outbox.drain(KIND)
    row = fresh(deposit)
    assert (row.payment, row.state, row.next_attempt_at) == (Payment.PAID, State.DONE, None)


@pytest.mark.django_db
def test_another_sites_invoice_is_not_found_from_this_business(wix, accepted):
    [deposit] = schedule(accepted)
    outbox.drain(KIND)
    other = BusinessFactory()
    from integrations.wix.client import WixError

    with pytest.raises(WixError) as refused:
        WixClient.for_business(other).get_invoice(fresh(deposit).wix_invoice_id)
    assert refused.value.status == 404


def test_the_retry_policy_outlasts_a_day_long_wix_outage():
    from integrations.kinds import WIX_INVOICE

    # The tries the policy allows, each waiting its expected (mean) jittered delay, span more
    # than a day; and the age limit (from the due time) lets the last of them happen.
    base = WIX_INVOICE.setting("BACKOFF_BASE_SECONDS")
    cap = WIX_INVOICE.setting("BACKOFF_CAP_SECONDS")
    tries = WIX_INVOICE.setting("MAX_ATTEMPTS")
    expected_span = sum(min(cap, base * 2 ** (n - 1)) / 2 for n in range(1, tries + 1))
    assert expected_span > 86400
    assert WIX_INVOICE.setting("MAX_AGE_SECONDS") > expected_span


@pytest.mark.django_db
def test_support_tries_a_failed_invoice_again_once_the_site_has_wix_invoices(wix, accepted):
    from accounts.audit import ActionRefused
    from accounts.models import StaffAction
    from integrations.support import support_invoice_retry
    from tests.accounts.factories import UserFactory

    staff = UserFactory.create(is_staff=True)
    wix.seed(instance_id=accepted.business.instance_id, invoices_access="not_migrated")
    [deposit] = schedule(accepted)
    with pytest.raises(ActionRefused):  # not failed (yet): nothing to try again
        support_invoice_retry(invoice=fresh(deposit), acting_user=staff)
    outbox.drain(KIND)
    assert fresh(deposit).state == State.FAILED

    wix.seed(instance_id=accepted.business.instance_id, invoices_access="ok")
    row = support_invoice_retry(invoice=fresh(deposit), acting_user=staff)

    assert (row.state, row.attempt_count, row.last_error) == (State.PENDING, 0, "")
    assert StaffAction.objects.filter(action="wix_invoice_retry", actor=staff).count() == 2
    assert outbox.drain(KIND)["sent"] == 1
    assert len(site_of(wix, accepted).sends()) == 1
