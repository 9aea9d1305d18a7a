"""The OpenAPI schema: committed, served with local docs, and true to the running API."""

import re
from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiYamlRenderer
from hypothesis import HealthCheck, given, settings
from schemathesis.generation import GenerationMode

from accounts.services import api_key_create
from proposals import services
from proposals.models import Delivery
from tests.accounts.factories import BusinessFactory
from tests.proposals.factories import ClientFactory, make_proposal

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.yaml"


def generated_schema() -> str:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return OpenApiYamlRenderer().render(schema, renderer_context={}).decode()


def test_committed_schema_matches_the_code():
    assert COMMITTED.exists(), "docs/openapi.yaml is missing: run `make schema` and commit it"
    assert generated_schema() == COMMITTED.read_text(), (
        "The API schema changed. If the change is deliberate, run `make schema` and commit "
        "docs/openapi.yaml with it; otherwise undo the change to the API."
    )


def test_every_operation_documents_auth_and_problem_responses():
    import yaml

    schema = yaml.safe_load(COMMITTED.read_text())
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert {"apiKey": []} in operation["security"], (method, path)
            for code in ("401", "404", "429", "500"):
                content = operation["responses"][code]["content"]
                assert "application/problem+json" in content, (method, path, code)
            if method == "post":
                names = {p["name"] for p in operation.get("parameters", [])}
                assert "Idempotency-Key" in names, path


@pytest.mark.django_db
def test_schema_and_docs_are_served_without_a_cdn(client):
    schema = client.get("/api/v1/schema/")
    docs = client.get("/api/v1/docs/")

    assert schema.status_code == 200
    assert b"openapi: 3" in schema.content
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html
    # Nothing is fetched from elsewhere: every script, style sheet and link is this site's own
    # (a plain "cdn" search failed whenever the page's random nonce happened to contain it).
    references = re.findall(r'(?:src|href)\s*=\s*["\']([^"\']*)', html)
    assert references and all(not re.match(r"^(?:[a-z]+:)?//", ref, re.I) for ref in references)
    bundle = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert bundle.status_code == 200


# --- schemathesis: the live schema against the running app ----------------------------------


@pytest.fixture
def api_schema(db):
    # Like Django's test client: keep the test's connection (and transaction) across requests.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", get_wsgi_application())
        checks = schema.config.checks
        checks.update(included_check_names=["all"])
        for name in ALL_CHECKS:
            assert checks.get_by_name(name=name).enabled, name
        # Beyond schemathesis' defaults, valid data may meet what no schema can know: a rule
        # of the business (422: an id it does not have, a key reused for another request),
        # a stale If-Match (412), the free plan's limit (402) and the body size limit (413,
        # which refuses invalid data too) -- each documented.
        positive, negative = checks.positive_data_acceptance, checks.negative_data_rejection
        positive.expected_statuses = [*positive.expected_statuses, "402", "412", "413", "422"]
        negative.expected_statuses = [*negative.expected_statuses, "413"]
        yield schema
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


EXAMPLES_PER_OPERATION = 20
# schemathesis 4's checks: each runs on every response (the stateful ones need a recorded
# history and pass without one).
ALL_CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
)


@pytest.fixture
def fuzz_data(settings):
    """A business with some data, a key, and limits that a fuzzer does not hit."""
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api_key": "100000/minute", "api_ip": "100000/minute"},
    }
    settings.FREE_PLAN_MONTHLY_SENDS = 100000
    business = BusinessFactory()
    customer = ClientFactory(business=business)
    sent = make_proposal(client=customer)
    services.proposal_send(proposal=sent, acting_user=None)
    draft = make_proposal(client=customer)
    template = services.template_create(business=business, acting_user=None, name="Standard")
    raw = api_key_create(business=business, name="fuzz", acting_user=None)[1]
    delivery = Delivery.objects.get(proposal=sent)
    # Real ids for path parameters, so that fuzzed bodies reach the services, not just 404s.
    ids = {
        "/api/v1/proposals/{id}/versions/{number}/": {"id": sent.pk, "number": 1},
        "/api/v1/proposals/{id}/versions/": {"id": sent.pk},
        "/api/v1/proposals/{id}/": {"id": draft.pk},
        "/api/v1/proposals/": {"id": sent.pk},
        "/api/v1/clients/": {"id": customer.pk},
        "/api/v1/templates/": {"id": template.pk},
        "/api/v1/deliveries/": {"id": delivery.pk},
    }
    return raw, ids


def _pinned(path: str, ids: dict) -> dict | None:
    for prefix, values in ids.items():
        if path == prefix or (path.startswith(prefix) and "{" in path):
            return values
    return None


def _property_test(strategy, raw_key: str):
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case):
        headers = {"Authorization": f"Bearer {raw_key}"}
        response = case.call(headers=headers)
        # No ``checks``: every check schemathesis has, negative-data rejection included.
        case.validate_response(response, headers=headers)

    return check


def test_api_conforms_to_its_schema(api_schema, fuzz_data):
    """Property-based, bounded and derandomized: every operation with valid and invalid data,
    with random and with real ids, through every check schemathesis has -- no 5xx, every
    response (errors included) as documented, valid data accepted and invalid data refused.

    (Driven by hand rather than ``schemathesis.pytest.from_fixture``, whose lazy loader does
    not run on pytest 9.)
    """
    raw_key, ids = fuzz_data
    failures = []
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 25

    for operation in operations:
        pinned = _pinned(operation.path, ids) if "{" in operation.path else None
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for path_parameters in [None, pinned] if pinned else [None]:
                strategy = operation.as_strategy(mode, path_parameters=path_parameters)
                try:
                    _property_test(strategy, raw_key)()
                except (Exception, BaseExceptionGroup) as exc:  # collect every failure, report all
                    failures.append(f"{operation.label} [{mode.value}, {path_parameters}]: {exc}")

    assert not failures, "\n\n".join(failures)
