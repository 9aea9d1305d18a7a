"""The stand-in's Get Paid Invoices API, called over HTTP as the product's Wix client will call
Wix: what it stores, how it is found again after an unknown outcome, and its faults."""

import httpx
import pytest

from tests.integrations.standin_site import Site, fresh_standin

CREATE = "/invoices/v4/invoices"
QUERY = "/invoices/v4/invoices/query"
NAMESPACE = "@proposals/payments"


def draft(contact_id: str, *, reference: str = "sched-1", price: str = "250.50", **extra) -> dict:
    return {
        "invoice": {
            "title": "Deposit for proposal P-7",
            "customerInfo": {"contactId": contact_id},
            "lineItems": [{"customItem": {"name": "Deposit", "quantity": "1", "price": price}}],
            "extendedFields": {"namespaces": {NAMESPACE: {"reference": reference}}},
            **extra,
        }
    }


def by_reference(site: Site, reference: str) -> list[dict]:
    response = site.post(
        QUERY,
        {"query": {"filter": {f"extendedFields.namespaces.{NAMESPACE}.reference": reference}}},
    )
    assert response.status_code == 200, response.text
    return response.json()["invoices"]


@pytest.fixture
def standin(_standin_server):
    yield from fresh_standin(_standin_server)


@pytest.fixture
def site(standin) -> Site:
    return Site(standin)


@pytest.fixture
def contact(site) -> str:
    return site.contact()


def test_a_created_invoice_is_a_standalone_draft_with_exact_totals(site, contact, standin):
    body = draft(contact, price="99.995")
    body["invoice"]["lineItems"].append(
        {"customItem": {"name": "Album", "quantity": "3", "price": "10.10"}}
    )

    response = site.post(CREATE, body)

    assert response.status_code == 200, response.text
    invoice = response.json()["invoice"]
    assert invoice["status"] == "DRAFT"
    assert invoice["reference"] == {"type": "STANDALONE"}
    assert invoice["currency"] == "USD"
    assert invoice["totals"]["subtotal"] == "130.30"  # 100.00 (half up) + 30.30
    assert invoice["totals"]["balance"] == "130.30"
    assert invoice["totals"]["paidAmount"] == "0.00"
    assert "PUBLISH" in invoice["availableActions"]
    got = site.get(f"{CREATE}/{invoice['id']}")
    assert got.status_code == 200
    assert got.json()["invoice"]["id"] == invoice["id"]
    assert standin.count("POST /invoices/v4/invoices") == 1


@pytest.mark.parametrize(
    "change",
    [
        {"lineItems": []},
        {"lineItems": [{"customItem": {"name": "", "price": "1"}}]},
        {"lineItems": [{"customItem": {"name": "x", "price": "-1"}}]},
        {"lineItems": [{"customItem": {"name": "x", "price": "1", "quantity": "0"}}]},
        {"lineItems": [{"customItem": {"name": "x", "price": "1"}, "catalogItem": {}}]},
        {"currency": "usd"},
    ],
)
def test_an_invalid_invoice_is_refused_and_not_stored(site, contact, standin, change):
    body = draft(contact)
    body["invoice"].update(change)

    response = site.post(CREATE, body)

    assert response.status_code == 400
    assert site.stored_invoices() == []


def test_the_customer_must_be_a_contact_of_the_same_site(site, standin):
    other = Site(standin)
    foreign_contact = other.contact()

    assert site.post(CREATE, draft("no-such-contact")).status_code == 400
    assert site.post(CREATE, draft(foreign_contact)).status_code == 400
    assert site.stored_invoices() == []


def test_another_sites_invoice_is_not_found(site, contact, standin):
    invoice = site.post(CREATE, draft(contact)).json()["invoice"]
    other = Site(standin)

    assert other.get(f"{CREATE}/{invoice['id']}").status_code == 404
    assert other.post(f"{CREATE}/{invoice['id']}/publish").status_code == 404
    assert other.post(f"{CREATE}/{invoice['id']}/send").status_code == 404
    assert other.post(QUERY, {"query": {}}).json()["invoices"] == []


def test_publishing_numbers_invoices_once_and_in_order(site, contact):
    first = site.post(CREATE, draft(contact, reference="a")).json()["invoice"]
    second = site.post(CREATE, draft(contact, reference="b")).json()["invoice"]

    published = site.post(f"{CREATE}/{first['id']}/publish").json()["invoice"]
    again = site.post(f"{CREATE}/{first['id']}/publish")
    other = site.post(f"{CREATE}/{second['id']}/publish").json()["invoice"]

    assert published["status"] == "PUBLISHED"
    assert published["numbering"]["displayNumber"] == "INV-0001"
    assert other["numbering"]["number"] == 2
    assert again.status_code == 400
    assert again.json()["details"]["applicationError"]["code"] == "ACTION_NOT_AVAILABLE"


def test_only_a_published_invoice_can_be_sent_and_every_send_is_recorded(site, contact, standin):
    invoice = site.post(CREATE, draft(contact)).json()["invoice"]
    path = f"{CREATE}/{invoice['id']}/send"

    assert site.post(path, {"subject": "Your deposit"}).status_code == 400
    site.post(f"{CREATE}/{invoice['id']}/publish")
    sent = site.post(path, {"subject": "Your deposit"})

    assert sent.status_code == 200
    assert sent.json()["invoice"]["statusQualifiers"] == ["SENT"]
    assert sent.json()["invoice"]["activityInfo"]["lastSentDate"]
    sends = site.sends()
    assert [(s["invoiceId"], s["request"]["subject"]) for s in sends] == [
        (invoice["id"], "Your deposit")
    ]


def test_payments_make_an_invoice_partially_paid_then_paid(site, contact, standin):
    invoice = site.post(CREATE, draft(contact, dueDate="2020-01-31")).json()["invoice"]
    site.post(f"{CREATE}/{invoice['id']}/publish")
    assert "OVERDUE" in site.get(f"{CREATE}/{invoice['id']}").json()["invoice"]["statusQualifiers"]

    partly = site.pay(invoice["id"], "100.00").json()["invoice"]
    over = site.pay(invoice["id"], "200")
    paid = site.pay(invoice["id"], "150.50").json()["invoice"]

    assert partly["status"] == "PARTIALLY_PAID"
    assert partly["totals"] == {**partly["totals"], "paidAmount": "100.00", "balance": "150.50"}
    assert "OVERDUE" in partly["statusQualifiers"]
    assert over.status_code == 400
    assert paid["status"] == "PAID"
    assert paid["totals"]["balance"] == "0.00"
    assert "OVERDUE" not in paid["statusQualifiers"]
    assert "PAY" not in paid["availableActions"]


def test_a_draft_can_not_be_paid(site, contact, standin):
    invoice = site.post(CREATE, draft(contact)).json()["invoice"]

    assert site.pay(invoice["id"], "1").status_code == 400


def test_an_invoice_is_found_again_by_the_reference_put_on_it(site, contact):
    site.post(CREATE, draft(contact, reference="sched-1"))
    wanted = site.post(CREATE, draft(contact, reference="sched-2")).json()["invoice"]

    found = by_reference(site, "sched-2")
    by_contact = site.post(
        QUERY, {"query": {"filter": {"customerInfo.contactId": {"$eq": contact}}}}
    ).json()["invoices"]

    assert [i["id"] for i in found] == [wanted["id"]]
    assert len(by_contact) == 2
    assert by_reference(site, "sched-3") == []


def test_query_pages_with_a_cursor_that_keeps_the_filter(site, contact):
    ids = {
        site.post(CREATE, draft(contact, reference="x")).json()["invoice"]["id"] for _ in range(5)
    }
    site.post(CREATE, draft(contact, reference="other"))
    query = {"filter": {f"extendedFields.namespaces.{NAMESPACE}.reference": "x"}}

    seen, pages, paging = [], 0, {"limit": 2}
    while True:
        body = site.post(QUERY, {"query": {**query, "cursorPaging": paging}}).json()
        pages += 1
        seen += [invoice["id"] for invoice in body["invoices"]]
        if not body["pagingMetadata"]["hasNext"]:
            break
        # Following pages send the cursor only, as Wix's query language wants.
        query, paging = {}, {"limit": 2, "cursor": body["pagingMetadata"]["cursors"]["next"]}

    assert pages == 3
    assert sorted(seen) == sorted(ids)


@pytest.mark.parametrize(
    "query",
    [
        {"filter": {"totals.total": "1"}},
        {"filter": {"status": {"$regex": "D"}}},
        {"cursorPaging": {"limit": 101}},
        {"cursorPaging": {"limit": 2, "cursor": "not-a-cursor"}},
        {"sort": [{"fieldName": "totals.total"}]},
    ],
)
def test_an_unsupported_query_is_refused(site, query):
    response = site.post(QUERY, {"query": query})

    assert response.status_code == 400


@pytest.mark.parametrize(("access", "status"), [("not_migrated", 428), ("forbidden", 403)])
def test_a_site_without_invoices_is_refused_on_every_call(site, contact, standin, access, status):
    invoice = site.post(CREATE, draft(contact)).json()["invoice"]
    site.seed(invoices_access=access)

    assert site.post(CREATE, draft(contact)).status_code == status
    assert site.post(QUERY, {"query": {}}).status_code == status
    assert site.get(f"{CREATE}/{invoice['id']}").status_code == status
    assert site.post(f"{CREATE}/{invoice['id']}/publish").status_code == status
    assert len(site.stored_invoices()) == 1


def test_an_expired_token_is_refused(site, contact, standin):
    standin.expire_tokens()

    assert site.post(CREATE, draft(contact)).status_code == 401


# -- faults --------------------------------------------------------------------------------
def test_a_create_whose_answer_is_lost_still_created_the_invoice(site, contact, standin):
    standin.faults(drop_after_next=1, paths=[CREATE + "$"])

    with pytest.raises(httpx.TransportError):
        site.post(CREATE, draft(contact, reference="sched-9"))

    # The caller that looks before creating again adopts the one Wix made.
    found = by_reference(site, "sched-9")
    assert len(found) == 1
    assert found[0]["status"] == "DRAFT"
    retried = site.post(CREATE, draft(contact, reference="other"))
    assert retried.status_code == 200  # the fault was for the next create only


def test_a_create_answered_with_an_error_after_the_work_still_created_it(site, contact, standin):
    standin.faults(
        error_after_processing=True, error_burst=1, error_status=503, paths=[CREATE + "$"]
    )

    response = site.post(CREATE, draft(contact, reference="sched-5"))

    assert response.status_code == 503
    assert len(by_reference(site, "sched-5")) == 1


def test_a_connection_dropped_before_the_work_creates_nothing(site, contact, standin):
    standin.faults(drop_next=1, paths=["/invoices"])

    with pytest.raises(httpx.TransportError):
        site.post(CREATE, draft(contact))

    assert site.stored_invoices() == []


def test_rate_limit_storms_answer_429_with_retry_after(site, contact, standin):
    standin.faults(storm_429=1, retry_after=7, paths=["/invoices"])

    response = site.post(CREATE, draft(contact))

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert site.stored_invoices() == []
    assert site.post(CREATE, draft(contact)).status_code == 200


def test_a_server_error_burst_answers_5xx_before_any_work(site, contact, standin):
    standin.faults(error_burst=2, error_status=502, paths=["/invoices"])

    statuses = [site.post(CREATE, draft(contact)).status_code for _ in range(3)]

    assert statuses == [502, 502, 200]
    assert len(site.stored_invoices()) == 1


def test_an_outage_answers_503_to_every_invoice_call(site, contact, standin):
    standin.faults(outage=True, paths=["/invoices"])

    assert site.post(CREATE, draft(contact)).status_code == 503
    assert site.post(QUERY, {"query": {}}).status_code == 503


@pytest.mark.parametrize("faults", [{"latency_ms": 600}, {"hang": True, "hang_seconds": 5}])
def test_a_slow_or_hanging_invoices_api_trips_the_callers_read_timeout(
    site, contact, standin, faults
):
    standin.faults(paths=["/invoices"], **faults)

    with pytest.raises(httpx.ReadTimeout):
        site.post(QUERY, {"query": {}}, timeout=httpx.Timeout(0.3, connect=1.0))
