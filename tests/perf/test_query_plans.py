"""Issue 10, point 4: every query of the busy doors and of every scheduled job is index-served.

Each door (a page, an API call, an admin page, a job) is driven against a realistic dataset,
every statement it sends is EXPLAINed with ``enable_seqscan = off`` (tests/perf/plans.py), and
the door fails on a Seq Scan or a full index scan of a business-owned / big / queue table, or on
an OFFSET beyond the bound. A failure prints the door, the SQL with its parameters, and the plan.

Run alone: DATABASE_URL=postgres://…/<db> .venv/bin/python -m pytest tests/perf -q
"""

from __future__ import annotations

import html
import importlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib import admin
from django.db import connection
from django.test import Client, override_settings
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string
from rest_framework.test import APIClient

from integrations import webhooks
from integrations.wix.standin.webhooks import sign_webhook, webhook_claims
from proposals.models import Delivery
from tests.perf import plans
from tests.perf.conftest import REQUEST_ID, World

if connection.vendor != "postgresql":
    pytest.skip(
        "query plans are PostgreSQL's (EXPLAIN, enable_seqscan): run with DATABASE_URL=postgres://…",
        allow_module_level=True,
    )

pytestmark = pytest.mark.django_db

ROOT = plans.ROOT


# --- doors ------------------------------------------------------------------------------------


class Ctx:
    """What a door needs: the dataset, signed-in clients, and the recorder of the door."""

    def __init__(self, world: World, clients: dict) -> None:
        self.world = world
        self.recorder = plans.Recorder()
        self.public = clients["public"]
        self.dashboard = clients["dashboard"]
        self.admin = clients["admin"]
        self.api = clients["api"]


def _ok(response, *allowed: int):
    allowed = allowed or (200,)
    assert response.status_code in allowed, (
        f"{response.request['PATH_INFO']}?{response.request.get('QUERY_STRING', '')} answered "
        f"{response.status_code}: the door must work for its plans to mean anything"
    )
    return response


_NEXT = re.compile(r"<a\b[^>]*\brel=\"next\"[^>]*>", re.IGNORECASE)
_HREF = re.compile(r"\bhref=\"([^\"]+)\"")


def _next_link(response) -> str | None:
    match = _NEXT.search(response.content.decode())
    if not match:
        return None
    href = _HREF.search(match.group(0))
    return html.unescape(href.group(1)) if href else None


def _dashboard_list(query: str = "") -> Callable[[Ctx], None]:
    def door(ctx: Ctx) -> None:
        _ok(ctx.dashboard.get("/app/" + query))

    return door


def _dashboard_pages(ctx: Ctx) -> None:
    # Follow the "next"/"older" link a few pages, whatever form it takes (page number or cursor).
    response = _ok(ctx.dashboard.get("/app/"))
    for _ in range(3):
        link = _next_link(response)
        if link is None:
            break
        response = _ok(ctx.dashboard.get(link if link.startswith("/") else "/app/" + link))


def _dashboard_deep_page(ctx: Ctx) -> None:
    # Past 1,000 rows: OFFSET pagination would go beyond the bound here.
    _ok(ctx.dashboard.get("/app/?page=48"))
    _ok(ctx.dashboard.get("/app/?status=sent&page=7"))


def _dashboard_detail(ctx: Ctx) -> None:
    _ok(ctx.dashboard.get(f"/app/proposals/{ctx.world.sent.pk}/"))
    _ok(ctx.dashboard.get(f"/app/proposals/{ctx.world.accepted.pk}/"))


def _dashboard_client_search(ctx: Ctx) -> None:
    # The client filter as search-as-you-type (issue 10), where the dashboard offers it.
    try:
        url = reverse("dashboard:client_search")
    except NoReverseMatch:
        pytest.skip("the dashboard has no client search endpoint")
    for term in ("Cli", "client0042@", "zzzznomatch"):
        _ok(ctx.dashboard.get(url, {"q": term}))


def _client_page(ctx: Ctx) -> None:
    _ok(ctx.public.get(f"/p/{ctx.world.sent_version.token}"))


def _client_accept(ctx: Ctx) -> None:
    response = ctx.public.post(
        f"/p/{ctx.world.sent_version.token}/accept",
        {"signed_name": "Ada Client", "agreed": "on"},
        REMOTE_ADDR="203.0.113.50",
    )
    _ok(response, 200, 302)


def _api_list(query: str = "") -> Callable[[Ctx], None]:
    def door(ctx: Ctx) -> None:
        _ok(ctx.api.get("/api/v1/proposals/" + query))

    return door


def _api_pages(ctx: Ctx) -> None:
    response = _ok(ctx.api.get("/api/v1/proposals/"))
    for _ in range(2):
        link = response.json().get("next")
        if not link:
            break
        response = _ok(ctx.api.get(link))
    response = _ok(ctx.api.get("/api/v1/proposals/?status=sent"))
    if response.json().get("next"):
        _ok(ctx.api.get(response.json()["next"]))


def _api_detail(ctx: Ctx) -> None:
    _ok(ctx.api.get(f"/api/v1/proposals/{ctx.world.sent.pk}/"))
    _ok(ctx.api.get(f"/api/v1/proposals/{ctx.world.accepted.pk}/"))


def _support_page(ctx: Ctx) -> None:
    _ok(ctx.admin.get(f"/admin/accounts/business/{ctx.world.big.pk}/support/"))


def _support_search(term: str) -> Callable[[Ctx], None]:
    def door(ctx: Ctx) -> None:
        value = {"email": ctx.world.client_email, "owner": ctx.world.owner.email}.get(term, term)
        _ok(ctx.admin.get("/admin/support/search/", {"q": value}))

    return door


def _uninstall_event(ctx: Ctx) -> str:
    claims = webhook_claims(event_type="AppRemoved", instance_id=ctx.world.small.instance_id)
    return sign_webhook(claims)


def _webhook_ingest(ctx: Ctx) -> None:
    # What Wix sends at 200/s: one signed event stored and acked, one forged body rejected.
    body = sign_webhook(
        webhook_claims(event_type="AppRemoved", instance_id=ctx.world.small.instance_id)
    )
    _ok(ctx.public.post("/integrations/wix/webhooks/", data=body, content_type="text/plain"))
    response = ctx.public.post(
        "/integrations/wix/webhooks/", data="not.a.jwt", content_type="text/plain"
    )
    assert response.status_code < 500, response.status_code


def _webhook_drain(ctx: Ctx) -> None:
    # The worker's side: a drain claims stored events and processes them (an uninstall: no
    # call to Wix), then finds nothing more due.
    body = sign_webhook(
        webhook_claims(event_type="AppRemoved", instance_id=ctx.world.small.instance_id)
    )
    with ctx.recorder.paused():
        receipt, _, _ = webhooks.webhook_receive(body=body.encode(), size=len(body))
    assert receipt is not None
    assert import_string("common.outbox.tasks.drain")("webhook_receipt")["claimed"] >= 1


def _contact_sync_drain(ctx: Ctx) -> None:
    # A drain of due contact syncs; the dataset's open "contacts" breaker answers for Wix.
    with override_settings(WIX_API_BASE_URL="http://127.0.0.1:9", WIX_MAX_ATTEMPTS=1):
        assert import_string("common.outbox.tasks.drain")("contact_sync")["claimed"] >= 1


def _delivery_task(ctx: Ctx) -> None:
    # The worker's side of the outbox: claim a due email, try it, record the attempt.
    with ctx.recorder.paused():
        delivery = Delivery.objects.filter(
            business=ctx.world.big, state=Delivery.State.PENDING
        ).first()
    assert delivery is not None
    import_string("proposals.delivery.tasks.execute_delivery")(delivery.pk)


def _recovery(ctx: Ctx) -> None:
    # A kind's work succeeds again after failures: its rows waiting out a backoff are due now.
    from common import outbox

    for kind in outbox.all_kinds():
        outbox.pull_forward(kind, limit=500)


def _email_webhook(ctx: Ctx) -> None:
    # The mail service reports a hard bounce: find the delivery by its message id, record the
    # event once, mark it bounced, suppress the address.
    from django.conf import settings

    from tests.proposals import mailgun

    with ctx.recorder.paused():
        delivery = Delivery.objects.filter(
            business=ctx.world.big, state=Delivery.State.SENT
        ).first()
        assert delivery is not None
        Delivery.objects.filter(pk=delivery.pk).update(provider_message_id="<plan@example.test>")
    payload = mailgun.sign(mailgun.bounced("<plan@example.test>", delivery.recipient))
    key = {**settings.ANYMAIL, "MAILGUN_WEBHOOK_SIGNING_KEY": mailgun.SIGNING_KEY}
    with override_settings(ANYMAIL=key):
        _ok(mailgun.post(ctx.public, payload))


def _readyz(ctx: Ctx) -> None:
    # 503 is fine (the dataset has overdue emails and no cluster): every check still queries.
    with override_settings(READYZ_REQUIRE_CLUSTER=False):
        _ok(ctx.public.get("/readyz"), 200, 503)


def _metrics(ctx: Ctx) -> None:
    with override_settings(METRICS_TOKEN="plans-token"):
        _ok(ctx.public.get("/metrics", HTTP_AUTHORIZATION="Bearer plans-token"))


def _get(client_name: str, url: Callable[[World], str]) -> Callable[[Ctx], None]:
    def door(ctx: Ctx) -> None:
        _ok(getattr(ctx, client_name).get(url(ctx.world)))

    return door


def _api_proposal_reads(ctx: Ctx) -> None:
    pk = ctx.world.sent.pk
    for tail in ("versions/", "versions/1/", "activity/", "deliveries/"):
        _ok(ctx.api.get(f"/api/v1/proposals/{pk}/{tail}"))


def _api_other_reads(ctx: Ctx) -> None:
    world = ctx.world
    delivery = world.sent.deliveries.order_by("pk").first()
    for url in (
        f"/api/v1/clients/{world.client.pk}/",
        f"/api/v1/deliveries/{delivery.pk}/",
        "/api/v1/templates/",
        "/api/v1/business/",
    ):
        _ok(ctx.api.get(url))


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


# --- admin changelists (every registered model) -----------------------------------------------


def _admin_models() -> list[str]:
    return sorted(m._meta.label_lower for m in admin.site._registry)


def _changelist_url(label: str) -> str:
    app_label, model_name = label.split(".")
    return reverse(f"admin:{app_label}_{model_name}_changelist")


# Tables the dataset fills past 1,000 rows: their changelists get a deep-page door too.
DEEP_PAGE_MODELS = (
    "accounts.business",
    "accounts.user",
    "proposals.activity",
    "proposals.delivery",
    "proposals.deliveryattempt",
    "proposals.proposal",
    "proposals.proposalversion",
)


def _admin_door(label: str, variant: str) -> Callable[[Ctx], None]:
    def door(ctx: Ctx) -> None:
        url = _changelist_url(label)
        if variant == "plain":
            response = _ok(ctx.admin.get(url))
            paginator = response.context["cl"].paginator
            pages = getattr(paginator, "num_pages", 1)
            if isinstance(pages, int) and pages > 1:
                _ok(ctx.admin.get(url, {"p": pages}))
        elif variant == "deep page":
            # The first page whose OFFSET is past the bound (the admin's ?p= counts from 1).
            per_page = admin.site._registry[_model(label)].list_per_page
            page = plans.MAX_OFFSET // per_page + 2
            with ctx.recorder.paused():  # the test's own check, not the door's query
                rows = _model(label)._default_manager.count()
            assert rows > (page - 1) * per_page, f"the dataset needs more {label} rows"
            # Refusing a page that deep (a redirect, 400 or 404) is a bound too.
            _ok(ctx.admin.get(url, {"p": page}), 200, 302, 400, 404)
        elif variant == "search":
            model_admin = admin.site._registry[_model(label)]
            if not model_admin.search_fields:
                pytest.skip(f"{label} has no search_fields")
            for term in (ctx.world.client_email, "P-0042", REQUEST_ID):
                _ok(ctx.admin.get(url, {"q": term}))
        elif variant == "filters":
            with ctx.recorder.paused():
                plain = _ok(ctx.admin.get(url))
            cl = plain.context["cl"]
            if not cl.filter_specs:
                pytest.skip(f"{label} has no list_filter")
            for spec in cl.filter_specs:
                choice = next((c for c in spec.choices(cl) if not c.get("selected")), None)
                if choice is not None:
                    _ok(ctx.admin.get(url + choice["query_string"]))
        elif variant == "change":
            model = _model(label)
            obj = model._default_manager.order_by("-pk").first()
            if obj is None:
                pytest.fail(f"the dataset has no {label}: add one to tests/perf/conftest.py")
            app_label, model_name = label.split(".")
            _ok(ctx.admin.get(reverse(f"admin:{app_label}_{model_name}_change", args=[obj.pk])))

    return door


def _model(label: str):
    from django.apps import apps

    return apps.get_model(label)


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


# --- scheduled jobs (every django-q2 schedule any app declares) -------------------------------


def scheduled_jobs() -> dict[str, str]:
    """name → task path, from every ``schedules.py`` of the project that declares SCHEDULES."""
    jobs: dict[str, str] = {}
    paths = {p for config in plans.project_apps() for p in Path(config.path).rglob("schedules.py")}
    for path in sorted(paths):
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for name, (func, *_timing) in getattr(module, "SCHEDULES", {}).items():
            jobs[name] = func
    return jobs


def _did_work(result) -> bool:
    if isinstance(result, dict):
        return any(_did_work(v) for v in result.values())
    return bool(result)


def _job_door(func: str) -> Callable[[Ctx], None]:
    def door(ctx: Ctx) -> None:
        result = import_string(func)()
        assert _did_work(result), (
            f"{func} returned {result!r}: it did no work on the dataset, so its plans prove "
            "nothing; add due rows for it to tests/perf/conftest.py"
        )

    return door


for _name, _func in scheduled_jobs().items():
    DOORS[f"job {_name} ({_func})"] = _job_door(_func)


def _delivery_drain(ctx: Ctx) -> None:
    # The worker's side of the email outbox: one statement claims a batch of due emails, one
    # query loads them, each send writes its attempt, the outcomes are written together.
    result = import_string("common.outbox.tasks.drain")("delivery")
    assert result["claimed"] >= 1, result


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
    "public:proposal", "public:accept",
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
