"""The doors the query-plan tests drive (tests/perf/test_query_plans.py): each a function of a
``Ctx`` that makes the requests of a page, an API call, an admin changelist or a scheduled job."""

from __future__ import annotations

import html
import importlib
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from django.contrib import admin
from django.test import override_settings
from django.urls import NoReverseMatch, reverse
from django.utils.module_loading import import_string

from integrations import webhooks
from integrations.wix.standin.webhooks import sign_webhook, webhook_claims
from proposals.models import Delivery
from tests.perf import plans
from tests.perf.world import REQUEST_ID, World

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


def _pdf_downloads(ctx: Ctx) -> None:
    # The first download records the PDF to render (202); the worker's side is the drain door.
    _ok(ctx.dashboard.get(f"/app/proposals/{ctx.world.sent.pk}/versions/1/pdf"), 200, 202)
    _ok(ctx.dashboard.get(f"/app/proposals/{ctx.world.accepted.pk}/accepted.pdf"), 200, 202)
    _ok(ctx.public.get(f"/p/{ctx.world.sent_version.token}/pdf"), 200, 202)


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
    assert delivery is not None
    for url in (
        f"/api/v1/clients/{world.client.pk}/",
        f"/api/v1/deliveries/{delivery.pk}/",
        "/api/v1/templates/",
        "/api/v1/business/",
    ):
        _ok(ctx.api.get(url))


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


def _delivery_drain(ctx: Ctx) -> None:
    # The worker's side of the email outbox: one statement claims a batch of due emails, one
    # query loads them, each send writes its attempt, the outcomes are written together.
    result = import_string("common.outbox.tasks.drain")("delivery")
    assert result["claimed"] >= 1, result
