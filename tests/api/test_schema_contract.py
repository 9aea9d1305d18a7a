"""What the schema documents is what the API does: each point schemathesis found, by hand."""

import re
import uuid
from decimal import Decimal

import pytest
import yaml

from proposals.models import Proposal
from tests.api.test_problems import _valid, assert_problem
from tests.api.test_schema import COMMITTED
from tests.proposals.factories import make_proposal

LISTS = ["/api/v1/proposals/", "/api/v1/clients/", "/api/v1/deliveries/", "/api/v1/templates/"]


@pytest.fixture(scope="module")
def schema() -> dict:
    return yaml.safe_load(COMMITTED.read_text())


def _parameter(schema: dict, path: str, method: str, name: str) -> dict:
    parameters = schema["paths"][path][method]["parameters"]
    return next(p for p in parameters if p["name"] == name)


# --- Idempotency-Key ---------------------------------------------------------------------------


def test_the_idempotency_key_is_documented_as_it_is_checked(schema):
    documented = _parameter(schema, "/api/v1/clients/", "post", "Idempotency-Key")["schema"]
    assert documented["maxLength"] == 255
    pattern = re.compile(documented["pattern"])
    for good in (str(uuid.uuid4()), "a", "~" * 255, "a b"):
        assert pattern.fullmatch(good), good
    for bad in ("", " a", "a ", "é", "a\tb", "x" * 256):
        assert not pattern.fullmatch(bad), bad


@pytest.mark.parametrize("key", ["x" * 256, " padded", "padded ", "naïve", "tab\there"])
def test_a_key_the_schema_refuses_is_400(api, customer, key):
    response = api.post(
        "/api/v1/clients/",
        {"name": "N", "email": "n@example.com"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )
    assert "Idempotency-Key" in assert_problem(response, 400)["errors"]


def test_the_longest_documented_key_works(api):
    response = api.post(
        "/api/v1/clients/",
        {"name": "N", "email": "n@example.com"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k" * 255,
    )
    assert response.status_code == 201


# --- limit and filters -------------------------------------------------------------------------


def test_limit_is_documented_1_to_100(schema):
    for path in LISTS:
        limit = _parameter(schema, path, "get", "limit")["schema"]
        assert (limit["minimum"], limit["maximum"]) == (1, 100), path


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("limit", ["0", "101", "94461", "", "abc", "-1", "1.5", " 5", "٣"])
def test_a_limit_outside_1_to_100_is_400_not_another_page_size(api, path, limit):
    assert "limit" in assert_problem(api.get(path, {"limit": limit}), 400)["errors"]


def test_limits_inside_the_range_page(api, customer):
    for _ in range(3):
        make_proposal(client=customer)
    assert len(api.get("/api/v1/proposals/", {"limit": "1"}).json()["results"]) == 1
    assert len(api.get("/api/v1/proposals/", {"limit": "100"}).json()["results"]) == 3


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/proposals/", "created_after"),
        ("/api/v1/proposals/", "status"),
        ("/api/v1/proposals/", "client"),
        ("/api/v1/clients/", "updated_before"),
        ("/api/v1/deliveries/", "state"),
        ("/api/v1/deliveries/", "proposal"),
    ],
)
def test_an_empty_filter_is_400_not_ignored(api, path, name):
    assert name in assert_problem(api.get(f"{path}?{name}="), 400)["errors"]


def test_an_empty_search_still_lists_everything(api, customer):
    make_proposal(client=customer)
    assert len(api.get("/api/v1/proposals/?search=").json()["results"]) == 1


# --- amounts -----------------------------------------------------------------------------------


def test_amounts_are_documented_non_negative_strings_or_numbers(schema):
    item = schema["components"]["schemas"]["LineItemInputRequest"]["properties"]
    for name in ("quantity", "unit_price", "discount_percent", "tax_rate"):
        text, number = item[name]["anyOf"]
        assert not re.fullmatch(text["pattern"], "-1"), name
        assert re.fullmatch(text["pattern"], "1.5"), name
        assert number["minimum"] == 0, name
    percent = re.compile(item["discount_percent"]["anyOf"][0]["pattern"])
    assert [bool(percent.fullmatch(v)) for v in ("100", "100.00", "99.99", "100.01", "101")] == [
        True, True, True, False, False,
    ]  # fmt: skip


@pytest.mark.parametrize(
    "price", ["-0", "-1", "1e3", " 5", "5 ", "+5", ".", "", "1_000", "٣", "12345678901.0"]
)
def test_an_amount_string_the_schema_refuses_is_400(api, customer, price):
    body = {**_valid(customer), "sections": [{"items": [{"name": "a", "unit_price": price}]}]}
    problem = assert_problem(api.post("/api/v1/proposals/", body, format="json"), 400)
    assert "sections[0].items[0].unit_price" in problem["errors"]
    assert not Proposal.objects.exists()


@pytest.mark.parametrize(
    ("sent", "stored"),
    [("5.", "5"), (".5", "0.5"), ("100.00", "100"), (0.1 * 3, "0.3"), (7, "7"), (0.00004, "0")],
)
def test_documented_amounts_are_accepted_numbers_rounded(api, customer, sent, stored):
    item = {"name": "a", "unit_price": "1", "tax_rate": sent}
    body = {**_valid(customer), "sections": [{"items": [item]}]}
    response = api.post("/api/v1/proposals/", body, format="json")
    assert response.status_code == 201, response.json()
    assert Decimal(response.json()["sections"][0]["items"][0]["tax_rate"]) == Decimal(stored)


# --- title -------------------------------------------------------------------------------------


def test_a_title_is_required_unless_a_template_gives_one(api, customer, schema):
    documented = schema["components"]["schemas"]["ProposalCreateRequest"]
    assert documented["anyOf"] == [{"required": ["title"]}, {"required": ["template"]}]
    assert documented["properties"]["title"]["minLength"] == 1

    untitled = {"client": customer.pk}
    assert "title" in assert_problem(api.post("/api/v1/proposals/", untitled), 400)["errors"]
    blank = {"client": customer.pk, "title": ""}
    assert "title" in assert_problem(api.post("/api/v1/proposals/", blank), 400)["errors"]

    template = api.post("/api/v1/templates/", {"name": "Standard"}, format="json").json()
    from_template = api.post(
        "/api/v1/proposals/", {"client": customer.pk, "template": template["id"]}, format="json"
    )
    assert from_template.status_code == 201
    assert from_template.json()["title"] == "Standard"


# --- order of checks ---------------------------------------------------------------------------


def test_malformed_input_is_400_whatever_if_match_says(api, draft):
    response = api.patch(
        f"/api/v1/proposals/{draft.pk}/", {"title": ""}, format="json", HTTP_IF_MATCH='"1-999"'
    )
    assert "title" in assert_problem(response, 400)["errors"]
    stale = api.patch(
        f"/api/v1/proposals/{draft.pk}/", {"title": "T"}, format="json", HTTP_IF_MATCH='"1-999"'
    )
    assert_problem(stale, 412)
