import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from tests.conftest import subprocess_env
from tests.redis_needed import require_redis

ROOT = Path(__file__).resolve().parents[2]


def test_healthz_answers_without_touching_the_database(db, client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_probes_answer_head_as_get(client, settings):
    # Uptime monitors and load balancers often probe with HEAD (issue 13 pt 12: HEAD on pages).
    settings.READYZ_REQUIRE_CLUSTER = False
    settings.METRICS_TOKEN = "probe-token"
    for url, headers in (
        ("/healthz", {}),
        ("/readyz", {}),
        ("/metrics", {"HTTP_AUTHORIZATION": "Bearer probe-token"}),
    ):
        response = client.head(url, **headers)
        assert response.status_code == 200, url
        assert response.content == b""
    assert client.post("/healthz").status_code == 405


@pytest.mark.django_db
def test_readyz_is_ok_when_every_dependency_is(client, settings):
    settings.READYZ_REQUIRE_CLUSTER = False
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 200, body
    statuses = {name: check["status"] for name, check in body["checks"].items()}
    assert {"database", "migrations", "queue", "cluster"} <= set(statuses)
    assert set(statuses.values()) == {"ok"}


@pytest.mark.django_db
def test_readyz_names_a_missing_cluster(client, settings):
    settings.READYZ_REQUIRE_CLUSTER = True
    started = time.monotonic()
    response = client.get("/readyz")
    elapsed_ms = (time.monotonic() - started) * 1000
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    cluster = body["checks"]["cluster"]
    duration = cluster.pop("duration_ms")
    assert cluster == {"status": "fail", "error": "no task cluster reported recently"}
    # How long the check took, in milliseconds: within the request's own time.
    assert isinstance(duration, int | float) and 0 <= duration <= elapsed_ms
    # Only the cluster is missing: the answer names it and no other dependency.
    failing = {name for name, check in body["checks"].items() if check["status"] != "ok"}
    assert failing == {"cluster"}


@pytest.mark.django_db
def test_readyz_fails_when_the_oldest_queued_task_is_too_old(client, settings):
    settings.READYZ_REQUIRE_CLUSTER = False
    settings.READYZ_MAX_QUEUE_AGE_SECONDS = 60
    OrmQ.objects.create(
        key=settings.Q_CLUSTER["name"], payload="x", lock=timezone.now() - timedelta(minutes=10)
    )
    response = client.get("/readyz")
    assert response.status_code == 503
    queue = response.json()["checks"]["queue"]
    assert queue["status"] == "fail"
    assert "oldest queued task" in queue["error"]


def test_readyz_answers_503_naming_the_database_when_it_is_unreachable():
    """A real process whose DATABASE_URL points at a port where nothing listens."""
    script = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client(HTTP_HOST='localhost').get('/readyz');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    env = subprocess_env(DATABASE_URL="postgres://postgres@127.0.0.1:9/unreachable")
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert answer["body"]["checks"]["database"]["status"] == "fail"
    assert answer["body"]["checks"]["migrations"]["status"] == "skipped"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_readyz_sees_a_running_cluster(client, settings, start_qcluster):
    # Cluster stats live in the cache: both processes must share one (Redis, as in production).
    require_redis()
    redis_cache = "redis://127.0.0.1:6379/14"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_cache,
        }
    }
    settings.READYZ_REQUIRE_CLUSTER = True
    cluster = start_qcluster(CACHE_URL=redis_cache)
    cluster.wait_for_output("running", timeout=60)
    # A cluster reports its stats every few seconds: ask again after a pause, not in a spin.
    deadline = time.monotonic() + 30
    while True:
        response = client.get("/readyz")
        if response.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 200, response.json()
    assert response.json()["checks"]["cluster"]["clusters"] >= 1
