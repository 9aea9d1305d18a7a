"""An accepted proposal's payment schedule becomes invoice rows, from each payment's own day;
a proposal that is not accepted invoices nothing, an accepted one stays locked; the business
sees each payment's invoice in the API, on its proposal page, its timeline and its list."""

from datetime import time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from common import outbox
from integrations.invoices import ScheduledPayment, invoices_schedule
from integrations.models import WixInvoice
from tests.accounts.factories import BusinessFactory
from tests.integrations.invoicing import (
    KIND,
    Step,
    due_now,
    fresh,
    invoice_calls,
    make_contact,
    schedule,
    site_of,
)
from tests.integrations.standin_site import Site
from tests.proposals.factories import accept


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
