"""The payment schedule through the API: round trip, refusals that change nothing, isolation."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from proposals import services
from proposals.models import Proposal, ProposalTemplate
from tests.api.conftest import bearer_client
from tests.proposals.factories import ClientFactory, accept, item, make_proposal, sections

pytestmark = pytest.mark.django_db

SCHEDULE = [
    {"kind": "deposit", "label": "Deposit", "amount_type": "percent", "value": "30"},
    {"kind": "milestone", "label": "Launch", "amount_type": "fixed", "value": 100,
     "due": "date", "due_date": (timezone.localdate() + timedelta(days=20)).isoformat()},
    {"kind": "milestone", "amount_type": "balance", "due": "days_after", "due_days": 30},
]  # fmt: skip


def _body(customer, **extra):
    body = {
        "client": customer.pk,
        "title": "Garden design",
        "currency": "EUR",
        "sections": sections(
            item("Survey", "1", "1000.00"), item("Pond", "1", "500", optional=True)
        ),
        "payment_schedule": SCHEDULE,
    }
    body.update(extra)
    return body


def test_the_schedule_round_trips(api, customer):
    response = api.post("/api/v1/proposals/", _body(customer), format="json")
    assert response.status_code == 201, response.json()
    parts = response.json()["payment_schedule"]
    assert [(p["kind"], p["label"], p["amount_type"], p["value"]) for p in parts] == [
        ("deposit", "Deposit", "percent", "30.00"),
        ("milestone", "Launch", "fixed", "100.00"),
        ("milestone", "Payment 2", "balance", None),
    ]
    assert parts[0]["due"] == "acceptance" and parts[2]["due_days"] == 30
    assert parts[1]["due_date"] == SCHEDULE[1]["due_date"]
    read = api.get(f"/api/v1/proposals/{response.json()['id']}/").json()
    assert read["payment_schedule"] == parts


def test_a_patch_replaces_or_keeps_the_schedule(api, customer):
    created = api.post("/api/v1/proposals/", _body(customer), format="json")
    url = f"/api/v1/proposals/{created.json()['id']}/"
    kept = api.patch(url, {"title": "Renamed"}, format="json", HTTP_IF_MATCH=created["ETag"])
    assert kept.status_code == 200, kept.json()
    assert len(kept.json()["payment_schedule"]) == 3
    cleared = api.patch(url, {"payment_schedule": []}, format="json", HTTP_IF_MATCH=kept["ETag"])
    assert cleared.json()["payment_schedule"] == []


def _part(**fields):
    return {"kind": "milestone", "amount_type": "percent", "due": "days_after", "due_days": 0,
            **fields}  # fmt: skip


@pytest.mark.parametrize(
    ("schedule", "status", "message"),
    [
        # Malformed for the schema: 400.
        ([_part(value="-10"), _part(amount_type="balance")], 400, "valid number"),
        ([_part(value="100", due_days=-3)], 400, "greater than or equal to 0"),
        ([_part(value="50", extra="x"), _part(amount_type="balance")], 400, "Unknown field"),
        # Well-formed, refused by the schedule's rules (proposals.schedule): 422.
        ([_part(kind="deposit", due="acceptance", value="60"), _part(value="60")], 422, "120%"),
        ([_part(value="0"), _part(amount_type="balance")], 422, "more than 0"),
        ([_part(value="100", due="date", due_date="2020-01-01")], 422, "already passed"),
        ([_part(value="1")] * 12 + [_part(value="88")], 422, "at most 12 milestones"),
        ([_part(value="1")] * 13 + [_part(amount_type="balance")], 422, "at most 12 milestones"),
        ([_part(value="30"), _part(value="30")], 422, "not 100%"),
    ],
)
def test_a_bad_schedule_is_refused_and_saves_nothing(api, customer, schedule, status, message):
    response = api.post(
        "/api/v1/proposals/", _body(customer, payment_schedule=schedule), format="json"
    )
    assert response.status_code == status, response.json()
    assert message in str(response.json()["errors"])
    assert not Proposal.objects.filter(business=customer.business).exists()


def test_an_amount_over_the_total_is_refused_by_the_rule_and_saves_nothing(api, customer, draft):
    url = f"/api/v1/proposals/{draft.pk}/"
    etag = api.get(url)["ETag"]
    too_much = [_part(amount_type="fixed", value="99999"), _part(amount_type="balance")]
    response = api.patch(url, {"payment_schedule": too_much}, format="json", HTTP_IF_MATCH=etag)
    assert response.status_code == 422, response.json()
    assert "more than the total" in response.json()["errors"]["payment_schedule"][0]
    draft.refresh_from_db()
    assert draft.payment_schedule == [] and api.get(url)["ETag"] == etag


def test_the_accepted_schedule_is_in_the_acceptance(api, customer):
    created = api.post("/api/v1/proposals/", _body(customer), format="json").json()
    proposal = Proposal.objects.get(pk=created["id"])
    version = services.proposal_send(proposal=proposal, acting_user=None)
    pond = next(i["key"] for s in version.snapshot["sections"] for i in s["items"] if i["optional"])
    accept(version, keys=[pond])
    data = api.get(f"/api/v1/proposals/{proposal.pk}/").json()
    payments = data["acceptance"]["payment_schedule"]
    assert [p["amount"] for p in payments] == ["450.00", "100.00", "950.00"]
    assert payments[2]["due_date"] == (timezone.localdate() + timedelta(days=30)).isoformat()
    versions = api.get(f"/api/v1/proposals/{proposal.pk}/versions/1/").json()
    assert versions["snapshot"]["payment_schedule"][0]["value"] == "30.00"


def test_templates_carry_the_schedule(api, customer):
    response = api.post(
        "/api/v1/templates/",
        {"name": "Std", "title": "Standard", "sections": sections(item("Hour", "1", "500")),
         "payment_schedule": SCHEDULE},
        format="json",
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    assert len(response.json()["payment_schedule"]) == 3
    started = api.post(
        "/api/v1/proposals/",
        {"client": customer.pk, "template": response.json()["id"]},
        format="json",
    )
    assert started.json()["payment_schedule"] == response.json()["payment_schedule"]
    bad = api.patch(
        f"/api/v1/templates/{response.json()['id']}/",
        {"payment_schedule": [_part(value="70")]},
        format="json",
    )
    assert bad.status_code == 422 and "not 100%" in str(bad.json()["errors"])
    template = ProposalTemplate.objects.get(pk=response.json()["id"])
    assert len(template.payment_schedule) == 3


def test_another_business_cannot_read_or_change_a_schedule(api, other):
    business, raw = other
    theirs = make_proposal(
        client=ClientFactory(business=business),
        payment_schedule=[_part(kind="deposit", due="acceptance", value="100")],
    )
    url = f"/api/v1/proposals/{theirs.pk}/"
    assert api.get(url).status_code == 404
    assert api.patch(url, {"payment_schedule": []}, format="json").status_code == 404
    theirs.refresh_from_db()
    assert len(theirs.payment_schedule) == 1
    assert len(bearer_client(raw).get(url).json()["payment_schedule"]) == 1


def test_the_schedule_costs_no_query_on_the_api_detail(api, customer, key_cached):
    plain = make_proposal(client=customer)
    scheduled = Proposal.objects.get(
        pk=api.post("/api/v1/proposals/", _body(customer), format="json").json()["id"]
    )
    for proposal in (plain, scheduled):
        accept(services.proposal_send(proposal=proposal, acting_user=None))

    def queries(proposal) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert api.get(f"/api/v1/proposals/{proposal.pk}/").status_code == 200
        return len(captured)

    queries(plain)  # the key's first use
    # The schedule itself costs nothing; the invoices of its payments are one read, however
    # many payments there are.
    assert queries(plain) + 1 == queries(scheduled)
