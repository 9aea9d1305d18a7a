"""Operator endpoints: /healthz (process alive) and /readyz (dependencies usable)."""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import structlog
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

log = structlog.get_logger(__name__)


class CheckFailed(Exception):
    pass


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def check_database() -> dict:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return {}


def check_migrations() -> dict:
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        raise CheckFailed(f"{len(plan)} migration(s) not applied")
    return {}


def queue_stats() -> dict:
    """Queued task count and the age in seconds of the oldest one waiting to be picked up."""
    from django_q.brokers import get_broker
    from django_q.models import OrmQ

    broker = get_broker()
    depth = broker.queue_size()
    oldest_age = None
    if settings.Q_BROKER == "orm":
        now = timezone.now()
        oldest = (
            OrmQ.objects.filter(key=broker.list_key, lock__lte=now)
            .order_by("lock")
            .values_list("lock", flat=True)
            .first()
        )
        if oldest is not None:
            oldest_age = (now - oldest).total_seconds()
    return {"depth": depth, "oldest_age_seconds": oldest_age}


def fail_if_older(age: float | None, limit: float, failure: str) -> None:
    """Raise ``CheckFailed`` when the oldest waiting item's ``age`` (seconds) passes ``limit``.

    ``failure`` names the age as ``{age}``: "oldest queued task is {age}s old".
    """
    if age is not None and age > limit:
        raise CheckFailed(failure.format(age=int(age)))


def check_queue() -> dict:
    stats = queue_stats()
    age = stats["oldest_age_seconds"]
    fail_if_older(age, settings.READYZ_MAX_QUEUE_AGE_SECONDS, "oldest queued task is {age}s old")
    return stats


def check_cluster() -> dict:
    from django_q.brokers import get_broker
    from django_q.status import Stat

    stats = Stat.get_all(broker=get_broker()) or []
    horizon = timezone.now() - timedelta(seconds=settings.READYZ_CLUSTER_MAX_SILENCE_SECONDS)
    recent = [s for s in stats if s.timestamp and s.timestamp >= horizon]
    if not recent and settings.READYZ_REQUIRE_CLUSTER:
        raise CheckFailed("no task cluster reported recently")
    return {"clusters": len(recent)}


@dataclass(frozen=True)
class Check:
    """One /readyz check: returns its detail or raises (``CheckFailed`` says why)."""

    run: Callable[[], dict]
    # Without a database nothing else can be asked: such a check is skipped, not run.
    needs_database: bool = True


# In the order they run and appear in the answer. Common's own first; each app adds its
# checks from its AppConfig.ready() (common knows no app).
CHECKS: dict[str, Check] = {
    "database": Check(check_database, needs_database=False),
    "migrations": Check(check_migrations),
    "queue": Check(check_queue),
    "cluster": Check(check_cluster),
}


def register_check(name: str, run: Callable[[], dict], *, needs_database: bool = True) -> None:
    """Add a /readyz check under ``name`` (the same one again replaces it: ready() may rerun)."""
    CHECKS[name] = Check(run, needs_database=needs_database)


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    results: dict[str, dict] = {}
    for name, check in CHECKS.items():
        if check.needs_database and results["database"]["status"] != "ok":
            results[name] = {"status": "skipped", "error": "database unavailable"}
            continue
        started = time.monotonic()
        try:
            detail = check.run()
            results[name] = {"status": "ok", **detail}
        except CheckFailed as exc:
            results[name] = {"status": "fail", "error": str(exc)}
        except Exception as exc:  # a dependency failing is the answer, not a 500
            results[name] = {"status": "fail", "error": exc.__class__.__name__}
        results[name]["duration_ms"] = round((time.monotonic() - started) * 1000, 1)
    failing = [name for name, result in results.items() if result["status"] != "ok"]
    if failing:
        log.warning("readiness_failed", failing=failing)
    return JsonResponse(
        {"status": "fail" if failing else "ok", "checks": results},
        status=503 if failing else 200,
    )
