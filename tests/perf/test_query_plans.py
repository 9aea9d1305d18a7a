"""Issue 10, point 4: every query of the busy doors and of every scheduled job is index-served.

Each door (a page, an API call, an admin page, a job) is driven against a realistic dataset,
every statement it sends is EXPLAINed with ``enable_seqscan = off`` (tests/perf/plans.py), and
the door fails on a Seq Scan or a full index scan of a business-owned / big / queue table, or on
an OFFSET beyond the bound. A failure prints the door, the SQL with its parameters, and the plan.

Run alone: DATABASE_URL=postgres://…/<db> .venv/bin/python -m pytest tests/perf -q
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client
from rest_framework.test import APIClient

from tests.perf import plans
from tests.perf.doors import (
    DEEP_PAGE_MODELS,
    Ctx,
    _admin_door,
    _admin_models,
    _api_detail,
    _api_list,
    _api_other_reads,
    _api_pages,
    _api_proposal_reads,
    _client_accept,
    _client_page,
    _contact_sync_drain,
    _dashboard_client_search,
    _dashboard_deep_page,
    _dashboard_detail,
    _dashboard_list,
    _dashboard_pages,
    _delivery_drain,
    _delivery_task,
    _email_webhook,
    _get,
    _job_door,
    _metrics,
    _model,
    _ok,
    _pdf_downloads,
    _readyz,
    _recovery,
    _support_page,
    _support_search,
    _webhook_drain,
    _webhook_ingest,
    scheduled_jobs,
)
from tests.perf.world import REQUEST_ID

if connection.vendor != "postgresql":
    pytest.skip(
        "query plans are PostgreSQL's (EXPLAIN, enable_seqscan): run with DATABASE_URL=postgres://…",
        allow_module_level=True,
    )

pytestmark = pytest.mark.django_db


# --- the doors (each made in tests/perf/doors.py) ---------------------------------------------

DOORS: dict[str, Callable[[Ctx], None]] = {
    "dashboard list": _dashboard_list(),
    "dashboard list ?status": _dashboard_list("?status=sent"),
    "dashboard list ?client": lambda ctx: _ok(
        ctx.dashboard.get("/app/", {"client": ctx.world.client.pk})
    ),
    "dashboard list ?q=email": lambda ctx: _ok(
        ctx.dashboard.get("/app/", {"q": ctx.world.client_email})
    ),
    "dashboard list ?q=P-0042": _dashboard_list("?q=P-0042"),
    "dashboard list ?q=no match": _dashboard_list("?q=zzzznomatch"),
    "dashboard list next pages": _dashboard_pages,
    "dashboard list deep page": _dashboard_deep_page,
    "dashboard detail": _dashboard_detail,
    "dashboard client search": _dashboard_client_search,
    "dashboard clients page": lambda ctx: _ok(ctx.dashboard.get("/app/clients/")),
    "dashboard preview": _get("dashboard", lambda w: f"/app/proposals/{w.sent.pk}/preview"),
    "dashboard edit page": _get("dashboard", lambda w: f"/app/proposals/{w.sent.pk}/edit"),
    "dashboard new proposal page": _get("dashboard", lambda w: "/app/proposals/new"),
    "dashboard client edit page": _get("dashboard", lambda w: f"/app/clients/{w.client.pk}/edit"),
    "dashboard templates page": _get("dashboard", lambda w: "/app/templates/"),
    "dashboard settings page": _get("dashboard", lambda w: "/app/settings/"),
    "dashboard api keys page": _get("dashboard", lambda w: "/app/api-keys/"),
    "client page": _client_page,
    "client page accept": _client_accept,
    "pdf downloads": _pdf_downloads,
    "api list": _api_list(),
    "api list ?status": _api_list("?status=sent"),
    "api list ?search": _api_list("?search=Client%200007"),
    "api list ?status&search no match": _api_list("?status=sent&search=zzzznomatch"),
    # Every client's name has "Client": beyond SEARCH_CLIENT_IDS the rows' own clients are read.
    "api list ?status&search many clients": _api_list("?status=sent&search=client"),
    "api list ?search=P-0042": _api_list("?search=P-0042"),
    "api list cursor pages": _api_pages,
    "api detail": _api_detail,
    "api clients list": lambda ctx: _ok(ctx.api.get("/api/v1/clients/")),
    "api proposal versions, activity, deliveries": _api_proposal_reads,
    "api client, delivery, templates, business": _api_other_reads,
    "api deliveries list": lambda ctx: _ok(ctx.api.get("/api/v1/deliveries/")),
    "support page": _support_page,
    "support search email": _support_search("email"),
    "support search owner email": _support_search("owner"),
    "support search P-0042": _support_search("P-0042"),
    "support search number": _support_search("42"),
    "support search request id": _support_search(REQUEST_ID),
    "webhook ingest": _webhook_ingest,
    "task drain webhook_receipt": _webhook_drain,
    "task drain contact_sync": _contact_sync_drain,
    "task execute_delivery": _delivery_task,
    "task recovery pull forward": _recovery,
    "email webhook bounce": _email_webhook,
    "readyz": _readyz,
    "metrics": _metrics,
}


# Every registered model's admin changelist, and every django-q2 schedule any app declares.
for _label in _admin_models():
    _model_admin = admin.site._registry[_model(_label)]
    for _variant in ("plain", "deep page", "search", "filters", "change"):
        if _variant == "deep page" and _label not in DEEP_PAGE_MODELS:
            continue
        if _variant == "search" and not _model_admin.search_fields:
            continue
        if _variant == "filters" and not _model_admin.list_filter:
            continue
        DOORS[f"admin {_label} {_variant}"] = _admin_door(_label, _variant)


for _name, _func in scheduled_jobs().items():
    DOORS[f"job {_name} ({_func})"] = _job_door(_func)


DOORS["task drain delivery"] = _delivery_drain


# --- the tests --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clients(world, django_db_blocker) -> dict:
    # Made once: every new test client loads the middleware again, and WhiteNoise's scans the
    # static files each time. The logins are in the dataset's transaction, so they last.
    with django_db_blocker.unblock():
        dashboard = Client()
        dashboard.force_login(world.owner)
        admin_client = Client()
        admin_client.force_login(world.superuser)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {world.api_raw_key}")
    return {"public": Client(), "dashboard": dashboard, "admin": admin_client, "api": api}


@pytest.fixture
def ctx(world, clients) -> Ctx:
    return Ctx(world, clients)


@pytest.mark.parametrize("door", sorted(DOORS))
def test_door_queries_are_index_served(door, ctx):
    recorder = ctx.recorder = plans.Recorder()
    with connection.execute_wrapper(recorder):
        DOORS[door](ctx)
    assert recorder.statements, f"{door} sent no SQL: the door is not what this test thinks"
    findings = plans.check(door, recorder.statements)
    if findings:
        pytest.fail(
            f"{len(findings)} problem(s) in the {plans.explained_count(recorder.statements)} "
            f"statements of {door!r} (EXPLAIN with enable_seqscan = off):\n\n"
            f"{plans.report(findings)}",
            pytrace=False,
        )


# --- the harness can fail ---------------------------------------------------------------------


def _findings(sql: str, params=None) -> list[plans.Finding]:
    return plans.check("self-test", [plans.Statement(sql, params)])


def test_harness_catches_a_seq_scan_on_an_unindexed_column(world):
    # Proposal.decline_reason has no index (nor will it): no index can serve this filter.
    findings = _findings(
        'SELECT "id" FROM "proposals_proposal" WHERE "decline_reason" = %s', ("Proposal 7",)
    )
    assert [(f.kind, f.relation.split()[0]) for f in findings] == [
        ("seq scan", "proposals_proposal")
    ], plans.report(findings)
    assert "Seq Scan" in findings[0].plan and "'Proposal 7'" in findings[0].sql


def test_harness_passes_a_primary_key_lookup(world):
    assert _findings('SELECT * FROM "proposals_proposal" WHERE "id" = %s', (world.sent.pk,)) == []


def test_harness_catches_a_full_table_count(world):
    # With seq scans off a COUNT(*) reads a whole index instead: still every row.
    findings = _findings('SELECT COUNT(*) FROM "proposals_activity"')
    assert [f.kind for f in findings] == ["full index scan"], plans.report(findings)


def test_harness_passes_a_limited_index_order(world):
    sql = 'SELECT "id" FROM "proposals_proposal" ORDER BY "id" DESC LIMIT 25'
    assert _findings(sql) == []


def test_harness_catches_a_deep_offset(world):
    sql = 'SELECT "id" FROM "proposals_proposal" WHERE "business_id" = %s ORDER BY "id" LIMIT 25'
    deep = _findings(sql + " OFFSET 5000", (world.big.pk,))
    assert f"OFFSET 5000 (> {plans.MAX_OFFSET})" in [f.kind for f in deep], plans.report(deep)
    shallow = _findings(sql + " OFFSET 25", (world.big.pk,))
    assert not [f for f in shallow if f.kind.startswith("OFFSET")], plans.report(shallow)


def test_harness_ignores_allowlisted_and_unexplainable_statements(world):
    assert _findings('SELECT * FROM "django_content_type" WHERE "model" = %s', ("user",)) == []
    assert _findings("SAVEPOINT plans_self_test") == []


def test_harness_explain_of_a_write_changes_nothing(world):
    before = world.sent.__class__.objects.filter(business=world.big).count()
    findings = _findings('DELETE FROM "proposals_activity" WHERE "id" = %s', (1,))
    assert findings == []
    assert world.sent.__class__.objects.filter(business=world.big).count() == before


def test_every_project_table_is_guarded_or_allowlisted():
    guarded = plans.guarded_tables()
    unclassified = sorted(plans.project_tables() - set(guarded) - set(plans.ALLOWED_TABLES))
    assert not unclassified, (
        f"new tables {unclassified}: add them to BIG_MODELS (scans fail) or, if they stay tiny, "
        "to ALLOWED_TABLES with the reason, in tests/perf/plans.py"
    )


def test_every_scheduled_job_is_a_door():
    jobs = scheduled_jobs()
    assert len(jobs) >= 6, jobs  # expiry, reminders, sweepers, retention, idempotency, purge
    assert all(any(func in door for door in DOORS) for func in jobs.values())


def test_harness_accepts_a_scan_of_a_partial_index(world):
    # A partial index holds only the rows its condition names ("what is due"): reading it
    # whole is what it is for.
    sql = (
        'SELECT "dedup_key" FROM "integrations_webhookreceipt" '
        'WHERE "dedup_key" IS NOT NULL ORDER BY "dedup_key"'
    )
    findings = _findings(sql)
    assert findings == [], plans.report(findings)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + sql)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "webhook_receipt_dedup_unique" in plan, plan  # the case this test is about


# URL names the doors above drive, and the ones they leave alone with the reason. A new URL
# must land in one or the other, so a new read path gets its plans checked.
DRIVEN_URLS = {
    "readyz", "metrics",
    "dashboard:proposal_list", "dashboard:proposal_detail", "dashboard:proposal_preview",
    "dashboard:proposal_edit", "dashboard:proposal_create", "dashboard:client_list",
    "dashboard:client_search", "dashboard:client_edit", "dashboard:template_list",
    "dashboard:settings", "dashboard:api_keys",
    "public:proposal", "public:accept", "public:pdf",
    "dashboard:proposal_version_pdf", "dashboard:proposal_accepted_pdf",
    "integrations:wix-webhook", "email_webhooks:mailgun-tracking",
    "api:proposal-list", "api:proposal-detail", "api:proposal-version-list",
    "api:proposal-version-detail", "api:proposal-activity", "api:proposal-delivery-list",
    "api:client-list", "api:client-detail", "api:template-list", "api:delivery-list",
    "api:delivery-detail", "api:business",
    "support-search", "accounts_business_support",
}  # fmt: skip


NOT_DRIVEN_URLS = {
    "healthz": "answers without the database",
    "accounts:login": "reads one user by its email index (the login form)",
    "accounts:logout": "no query beyond the session",
    "api:schema": "static OpenAPI document",
    "api:docs": "static page",
    # Writes through the same services the driven doors and jobs use; one row by primary key.
    "dashboard:proposal_send": "write", "dashboard:proposal_withdraw": "write",
    "dashboard:proposal_duplicate": "write", "dashboard:delivery_retry": "write",
    "dashboard:proposal_delete": "write (the API's delete draft)",
    "dashboard:proposal_save_as_template": "write: the working copy, as the detail reads it",
    "dashboard:client_create": "write (GET is an empty form)",
    "dashboard:template_create": "write (GET is an empty form)",
    "dashboard:template_edit": "one template by primary key",
    "dashboard:template_delete": "write",
    "dashboard:api_key_revoke": "write",
    "public:decline": "write, the same reads as accept",
    "api:proposal-send": "write", "api:proposal-withdraw": "write",
    "api:proposal-duplicate": "write", "api:template-detail": "one template by primary key",
    "support-bulk-retry": "staff write, bounded by SUPPORT_BULK_RETRY_MAX",
    "landing": "static page (the session's user at most)",
    "favicon": "a redirect to the static file, no query",
    "public:logo": "a file read through the storage API, no query",
    "dashboard:api_key_created": "the key just created, by primary key within the business",
}  # fmt: skip


def _url_names(resolver=None, namespace: str = "") -> set[str]:
    from django.urls import URLResolver, get_resolver

    names: set[str] = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue  # every registered changelist and change page is a door already
            inner = f"{namespace}:{pattern.namespace}" if pattern.namespace else namespace
            names |= _url_names(pattern, inner.strip(":"))
        elif pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_every_url_is_driven_or_explained():
    names = _url_names() | {"accounts_business_support"}
    unknown = sorted(names - DRIVEN_URLS - set(NOT_DRIVEN_URLS))
    assert not unknown, (
        f"new URLs {unknown}: drive them in DOORS (tests/perf/test_query_plans.py) and add them "
        "to DRIVEN_URLS, or say in NOT_DRIVEN_URLS why their plans need no check"
    )
    assert not (DRIVEN_URLS | set(NOT_DRIVEN_URLS)) - names - {"accounts_business_support"}


def test_harness_goes_on_after_a_statement_it_cannot_explain(world):
    findings = plans.check(
        "self-test",
        [
            plans.Statement('SELECT "no_such_column" FROM "proposals_proposal"', None),
            plans.Statement(
                'SELECT "id" FROM "proposals_proposal" WHERE "decline_reason" = %s', ("x",)
            ),
        ],
    )
    assert [f.kind for f in findings] == ["not explainable", "seq scan"], plans.report(findings)
