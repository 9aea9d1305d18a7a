"""An accepted proposal's payments as invoices in the business's Wix site, through the outbox:
exactly one Wix invoice per payment whatever is lost on the way, sent when due, payment status
read back, and a site without Wix Invoices told why."""

import math
from datetime import time, timedelta
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from common import outbox
from integrations.invoices import ScheduledPayment, invoices_schedule
from integrations.models import WixInvoice
from integrations.wix.client import WixClient
from tests.accounts.factories import BusinessFactory
from tests.integrations.standin_site import Site
from tests.proposals.factories import accept, make_sent_proposal

KIND = "wix_invoice"
State, Step, Payment = WixInvoice.State, WixInvoice.Step, WixInvoice.Payment
CREATE = ["/invoices/v4/invoices$"]


@pytest.fixture
def accepted(wix):
    """A proposal of a business on the stand-in, accepted; its client is a contact of the site."""
    business = BusinessFactory()
    proposal, version = make_sent_proposal(business=business)
    acceptance = accept(version)
    make_contact(proposal.client)
    return acceptance


def make_contact(client) -> None:
    """The client made a contact of its business's Wix site (what the contact sync does)."""
    contact = WixClient.for_business(client.business).create_contact(
        {"emails": {"items": [{"email": client.email}]}}
    )
    client.wix_contact_id = contact["id"]
    client.save(update_fields=["wix_contact_id"])


def schedule(acceptance, *later_days: int) -> list[WixInvoice]:
    """A deposit due now, then a payment due ``n`` days later for each of ``later_days``."""
    now = timezone.now()
    payments = [ScheduledPayment(1, "Deposit", Decimal("250.50"), now)]
    payments += [
        ScheduledPayment(n, f"Milestone {n}", Decimal("100"), now + timedelta(days=days))
        for n, days in enumerate(later_days, start=2)
    ]
    return invoices_schedule(acceptance=acceptance, currency="USD", payments=payments)


def site_of(wix, acceptance) -> Site:
    return Site(wix, instance_id=acceptance.business.instance_id)


def due_now(*rows) -> None:
    WixInvoice.objects.filter(pk__in=[r.pk for r in rows]).update(next_attempt_at=timezone.now())


def fresh(row) -> WixInvoice:
    return WixInvoice.objects.get(pk=row.pk)


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
    from integrations import invoices

    class Killed(BaseException):
        pass

    def killed(row, invoice):
        raise Killed

    [deposit] = schedule(accepted)
    monkeypatch.setattr(invoices, "_record_created", killed)
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


def invoice_calls(wix) -> int:
    """Requests that reached the stand-in's Invoices endpoints (answered or refused)."""
    return sum(n for key, n in wix.counts().items() if "/invoices/v4/" in key)


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


def _sent_with_schedule_to_a_contact(business):
    """A proposal with a 40 % deposit and the balance 14 days later, sent to a client who is
    already a contact of the business's Wix site (so nothing but the guards stops an invoice)."""
    from proposals import services
    from tests.proposals.factories import make_proposal

    proposal = make_proposal(
        business=business,
        payment_schedule=[
            {"kind": "deposit", "amount_type": "percent", "value": "40"},
            {"kind": "milestone", "label": "Rest", "amount_type": "balance",
             "due": "days_after", "due_days": 14},
        ],
    )  # fmt: skip
    version = services.proposal_send(proposal=proposal, acting_user=None)
    make_contact(proposal.client)
    return proposal, version


@pytest.mark.parametrize("answer", ["withdrawn", "declined"])
@pytest.mark.django_db
def test_a_withdrawn_or_declined_proposal_with_a_schedule_invoices_nothing(wix, answer):
    from proposals import services

    business = BusinessFactory()
    proposal, version = _sent_with_schedule_to_a_contact(business)
    if answer == "withdrawn":
        services.proposal_withdraw(proposal=proposal, acting_user=None)
    else:
        services.proposal_decline(version=version, reason="Not now", ip=None, user_agent="")

    with pytest.raises(services.TransitionError):  # the client's yes comes too late
        accept(version)
    outbox.drain(KIND)

    proposal.refresh_from_db()
    assert proposal.status == answer
    assert not WixInvoice.objects.filter(proposal=proposal).exists()
    assert invoice_calls(wix) == 0


def as_accepted(proposal) -> dict:
    """What the client agreed to and what it set going, as stored."""
    from proposals.models import Acceptance, Proposal, ProposalVersion

    return {
        "proposal": Proposal.objects.filter(pk=proposal.pk)
        .values("title", "status", "revision", "total", "payment_schedule", "current_version")
        .get(),
        "versions": list(ProposalVersion.objects.filter(proposal=proposal).order_by("pk").values()),
        "acceptance": list(Acceptance.objects.filter(proposal=proposal).values()),
        "invoices": list(WixInvoice.objects.filter(proposal=proposal).order_by("pk").values()),
    }


@pytest.mark.parametrize(
    "door",
    ["service_update", "service_send", "api_patch", "api_send", "editor_get", "editor_post",
     "dashboard_send"],
)  # fmt: skip
@pytest.mark.django_db
def test_an_accepted_proposal_is_locked_on_every_door_and_its_invoices_stay_as_they_were(
    wix, client, door
):
    from rest_framework.test import APIClient

    from accounts.services import api_key_create
    from proposals import services
    from tests.accounts.factories import MembershipFactory
    from tests.proposals.test_views_dashboard_editor import editor_post

    business = BusinessFactory()
    proposal, version = _sent_with_schedule_to_a_contact(business)
    customer = proposal.client
    accept(version)
    outbox.drain(KIND)  # the deposit invoiced and sent in Wix, the rest waiting for its day
    proposal.refresh_from_db()
    before = as_accepted(proposal)
    assert len(before["invoices"]) == 2 and len(before["acceptance"]) == 1
    wix_before = wix.counts()
    other_schedule = [{"kind": "deposit", "amount_type": "percent", "value": "100"}]

    if door.startswith("service_"):
        with pytest.raises(services.ProposalLocked):
            if door == "service_update":
                services.proposal_update(
                    proposal=proposal, acting_user=None, title="Changed after the yes",
                    client=customer, currency=proposal.currency, valid_until=None, intro="",
                    terms="", sections=[], payment_schedule=other_schedule,
                )  # fmt: skip
            else:
                services.proposal_send(proposal=proposal, acting_user=None)
    elif door.startswith("api_"):
        api = APIClient()
        api.credentials(
            HTTP_AUTHORIZATION="Bearer "
            + api_key_create(business=business, name="t", acting_user=None)[1]
        )
        url = f"/api/v1/proposals/{proposal.pk}/"
        etag = api.get(url)["ETag"]
        if door == "api_patch":
            body = {"title": "Changed after the yes", "payment_schedule": other_schedule}
            response = api.patch(url, body, format="json", HTTP_IF_MATCH=etag)
        else:
            response = api.post(url + "send/", {"message": "Again"}, format="json")
        assert response.status_code == 409, response.content
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "proposal_locked"
    else:
        owner = MembershipFactory(business=business).user
        client.force_login(owner)
        detail = reverse("dashboard:proposal_detail", args=[proposal.pk])
        if door == "editor_get":
            response = client.get(reverse("dashboard:proposal_edit", args=[proposal.pk]))
        elif door == "editor_post":
            data = editor_post(
                client=str(customer.pk), title="Changed after the yes", revision=proposal.revision
            )
            response = client.post(reverse("dashboard:proposal_edit", args=[proposal.pk]), data)
        else:
            data = {"message": "Again", "revision": proposal.revision}
            response = client.post(reverse("dashboard:proposal_send", args=[proposal.pk]), data)
        assert (response.status_code, response["Location"]) == (302, detail)
        page = " ".join(client.get(detail).content.decode().split())
        assert "can no longer be" in page

    assert as_accepted(proposal) == before
    outbox.drain(KIND)
    assert as_accepted(proposal) == before  # nothing became due because of it
    assert wix.counts() == wix_before  # and Wix heard nothing new


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


@pytest.mark.django_db
def test_accepting_a_proposal_with_a_schedule_invoices_each_payment_from_its_own_day(wix):
    from proposals import services
    from tests.proposals.factories import item, make_proposal, sections

    business = BusinessFactory(timezone="Europe/Berlin")
    deposit_then_balance = [
        {"kind": "deposit", "amount_type": "percent", "value": "25"},
        {"kind": "milestone", "label": "On delivery", "amount_type": "balance",
         "due": "days_after", "due_days": 30},
    ]  # fmt: skip
    proposal = make_proposal(
        business=business,
        sections=sections(
            item("Design", "1", "1000.00"), item("Extra", "1", "200.00", optional=True)
        ),
        payment_schedule=deposit_then_balance,
    )
    version = services.proposal_send(proposal=proposal, acting_user=None)
    option = next(
        i["key"] for s in version.snapshot["sections"] for i in s["items"] if i["optional"]
    )
    make_contact(proposal.client)

    acceptance = accept(version, keys=[option])  # 1,200.00: 300.00 now, 900.00 in 30 days

    rows = list(WixInvoice.objects.filter(acceptance=acceptance).order_by("position"))
    assert [(r.label, r.amount, r.currency) for r in rows] == [
        ("Deposit", Decimal("300.00"), proposal.currency),
        ("On delivery", Decimal("900.00"), proposal.currency),
    ]
    assert rows[0].due_at == acceptance.accepted_at
    assert rows[1].due_at.astimezone(ZoneInfo("Europe/Berlin")).time() == time(0, 0)
    outbox.drain(KIND)
    site = Site(wix, instance_id=business.instance_id)
    assert [s["invoiceId"] for s in site.sends()] == [fresh(rows[0]).wix_invoice_id]
    assert len(site.stored_invoices()) == 2


@pytest.mark.django_db
def test_accepting_a_proposal_without_a_schedule_invoices_nothing(wix, accepted):
    assert not WixInvoice.objects.filter(acceptance=accepted).exists()


@pytest.mark.django_db
def test_the_business_sees_each_payments_invoice_in_the_api_and_on_its_proposal_page(
    wix, accepted, client
):
    from accounts.models import Membership
    from proposals import payments
    from tests.accounts.factories import MembershipFactory

    Acceptance = type(accepted)
    Acceptance.objects.filter(pk=accepted.pk).update(
        payment_schedule=[
            {"position": 1, "kind": "deposit", "label": "Deposit", "amount_type": "fixed",
             "percent": None, "amount": "250.50", "currency": "USD", "due": "acceptance",
             "due_date": timezone.localdate().isoformat()},
        ]
    )  # fmt: skip
    accepted.refresh_from_db()
    assert payments.with_progress(accepted)[0]["invoice"] is None
    [deposit] = schedule(accepted)
    outbox.drain(KIND)
    site_of(wix, accepted).pay(fresh(deposit).wix_invoice_id, "250.50")
    due_now(deposit)
    outbox.drain(KIND)

    [payment] = payments.with_progress(accepted)
    assert payment["invoice"] == {
        "status": "sent",
        "payment": "paid",
        "number": "INV-0001",
        "paid_amount": "250.5000",
        "reason": "",
    }
    owner = MembershipFactory.create(business=accepted.business, role=Membership.Role.OWNER).user
    client.force_login(owner)
    page = client.get(reverse("dashboard:proposal_detail", args=[accepted.proposal_id]))
    assert page.status_code == 200
    assert "INV-0001 · Sent · paid" in page.content.decode()


@pytest.mark.django_db
def test_the_proposal_timeline_tells_of_the_invoice_sent_paid_and_failed(wix, accepted, client):
    from accounts.models import Membership
    from proposals.models import Activity
    from tests.accounts.factories import MembershipFactory

    wix.seed(instance_id=accepted.business.instance_id, invoices_access="ok")
    deposit, milestone = schedule(accepted, 30)
    outbox.drain(KIND)
    site = site_of(wix, accepted)
    site.pay(fresh(deposit).wix_invoice_id, "100.00")
    due_now(deposit)
    outbox.drain(KIND)
    due_now(deposit)
    outbox.drain(KIND)  # no change since: no new event

    events = list(
        Activity.objects.filter(proposal_id=accepted.proposal_id, kind__startswith="invoice_")
        .order_by("id")
        .values_list("kind", "details__number", "details__payment")
    )
    assert events == [
        ("invoice_sent", "INV-0001", "unpaid"),
        ("invoice_payment", "INV-0001", "partially_paid"),
    ]
    wix.seed(instance_id=accepted.business.instance_id, invoices_access="forbidden")
    WixInvoice.objects.filter(pk=milestone.pk).update(
        step=Step.CREATE, wix_invoice_id="", next_attempt_at=timezone.now()
    )
    outbox.drain(KIND)
    failed = Activity.objects.get(proposal_id=accepted.proposal_id, kind="invoice_failed")
    assert "Manage Invoices permission" in failed.details["reason"]

    owner = MembershipFactory.create(business=accepted.business, role=Membership.Role.OWNER).user
    client.force_login(owner)
    page = client.get(reverse("dashboard:proposal_detail", args=[accepted.proposal_id]))
    text = " ".join(page.content.decode().split())
    assert "Invoice INV-0001 for Deposit ($250.50) was sent to the client through Wix." in text
    assert "Invoice INV-0001 for Deposit is partially paid ($100.00)." in text
    assert "The invoice for Milestone 2 ($100.00) could not be made in Wix: the app may" in text


@pytest.mark.parametrize(
    ("parts", "line"),
    [
        ([("deposit", "sent", "paid"), ("milestone", "created", "unpaid")], "Deposit paid"),
        ([("deposit", "sent", "paid"), ("milestone", "sent", "paid")], "Paid in full"),
        ([("milestone", "sent", "paid"), ("milestone", "sent", "unpaid")], "1 of 2 paid"),
        ([("deposit", "sent", "overdue"), ("milestone", "created", "unpaid")], "Payment overdue"),
        ([("deposit", "failed", "unpaid")], "Invoice failed"),
        ([("deposit", "sent", "unpaid")], "Invoiced"),
        ([("deposit", "scheduled", "unpaid")], "Invoices scheduled"),
    ],
)
def test_a_list_line_sums_up_a_proposals_payments(parts, line):
    from proposals.payments import PaymentProgress, _summary

    progress = [PaymentProgress(status=s, payment=p, kind=k) for k, s, p in parts]
    assert _summary(progress) == line


@pytest.mark.django_db
def test_the_dashboard_list_says_deposit_paid_in_one_query_for_the_page(wix, accepted, client):
    from accounts.models import Membership
    from tests.accounts.factories import MembershipFactory

    owner = MembershipFactory.create(business=accepted.business, role=Membership.Role.OWNER).user
    client.force_login(owner)
    url = reverse("dashboard:proposal_list")
    client.get(url)
    with CaptureQueriesContext(connection) as before:
        client.get(url)
    deposit, _ = invoices_schedule(
        acceptance=accepted,
        currency="USD",
        payments=[
            ScheduledPayment(1, "Deposit", Decimal("100"), timezone.now(), kind="deposit"),
            ScheduledPayment(2, "Rest", Decimal("50"), timezone.now() + timedelta(days=9)),
        ],
    )
    outbox.drain(KIND)
    site_of(wix, accepted).pay(fresh(deposit).wix_invoice_id, "100.00")
    due_now(deposit)
    outbox.drain(KIND)

    with CaptureQueriesContext(connection) as after:
        page = client.get(url)
    assert "Deposit paid" in page.content.decode()
    # The page's accepted proposals cost one read of their invoices, whether they have any.
    assert len(after) == len(before)
    assert sum("integrations_wixinvoice" in q["sql"] for q in after.captured_queries) == 1
