"""Task queue: the django-q2 cluster (broker, timeouts, its own bookkeeping) and when /readyz
calls the queue unhealthy. ``Q_TIMEOUT`` bounds the outbox drains and the delivery lease.
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_str
from config.settings.database import REDIS_SOCKET_TIMEOUT

# --- task queue (django-q2) -----------------------------------------------------------------
# The project owns retries (outbox rows with their own backoff), so django-q2 must never run a
# task a second time by itself: one attempt, and `retry` (the time after which an unacknowledged
# task is handed out again) well above `timeout` (after which the worker is killed).
Q_TIMEOUT = env_int("Q_TIMEOUT", 120, minimum=5)
Q_RETRY = env_int("Q_RETRY", Q_TIMEOUT * 2, minimum=Q_TIMEOUT + 1)
if Q_RETRY <= Q_TIMEOUT:
    raise ImproperlyConfigured("Environment variable Q_RETRY must be greater than Q_TIMEOUT")
Q_BROKER = env_str("Q_BROKER", "orm", choices=("orm", "redis"))
# django-q2's own bookkeeping, read in its source (monitor.save_task, brokers/orm.py) — the
# monitor is ONE process doing it for every worker, so it caps the cluster:
# - save_limit -1: a successful task leaves no row. With a positive limit the monitor reads
#   (SELECT … FOR UPDATE) every stored success, pickled fields and all, under a lock after
#   each task, to prune the oldest: 7 queries and 160-210 ms of the monitor per task with
#   1,000 stored (measured on the shared 2-core machine), none with -1; with 0 it never
#   prunes, so the table grows forever. What a task did is recorded by the project's own
#   rows (deliveries and their attempts, contact syncs, webhook receipts, Wix calls);
#   failures are still saved, so the admin's "Failed tasks" page and the queue pages stay.
# - ack_failures + max_attempts 1: a failed task is acknowledged (deleted from the queue) at
#   once, never re-run by django-q2; the outbox row's own retry policy decides what happens.
# - poll 0.2 s: how long the ORM broker's pusher sleeps on an empty queue, i.e. the wait for
#   the first drain after a quiet moment (one indexed SELECT per poll per cluster).
# - bulk 1 and queue_limit = workers: the pusher locks (takes from other clusters) only as
#   many tasks as this cluster can start at once; a drain task is a whole batch of rows.
Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "proposals"),
    "workers": env_int("Q_WORKERS", 2, minimum=1),
    "timeout": Q_TIMEOUT,
    "retry": Q_RETRY,
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": env_int("Q_SAVE_LIMIT", -1, minimum=-1),
    "catch_up": False,
    "label": "Task queue",
    "cache": "default",
    "poll": env_float("Q_POLL_SECONDS", 0.2, minimum=0.01),
    "bulk": 1,
}
Q_CLUSTER["queue_limit"] = Q_CLUSTER["workers"]
if Q_BROKER == "orm":
    Q_CLUSTER["orm"] = "default"
else:
    from redis.connection import parse_url

    # A dict (not the URL) so the connection gets timeouts; the broker blocks for 1 s per
    # poll, so its read timeout must be longer than that.
    Q_CLUSTER["redis"] = {
        **parse_url(env_str("Q_REDIS_URL", "redis://127.0.0.1:6379/1")),
        "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_timeout": max(5.0, REDIS_SOCKET_TIMEOUT),
    }
# /readyz fails when the oldest queued task waits longer than this, or no cluster reported.
READYZ_MAX_QUEUE_AGE_SECONDS = env_int("READYZ_MAX_QUEUE_AGE_SECONDS", 300, minimum=1)
READYZ_CLUSTER_MAX_SILENCE_SECONDS = env_int("READYZ_CLUSTER_MAX_SILENCE_SECONDS", 60, minimum=1)
READYZ_REQUIRE_CLUSTER = env_bool("READYZ_REQUIRE_CLUSTER", True)
