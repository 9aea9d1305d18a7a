"""Deliveries, the email outbox: retries, deadlines and the lease, per-business pacing, the
scheduled jobs' batches. The lease and deadline are computed from ``Q_TIMEOUT`` and
``EMAIL_TIMEOUT``.
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int
from config.settings.mail import EMAIL_TIMEOUT
from config.settings.tasks import Q_TIMEOUT

# --- deliveries (the email outbox) ----------------------------------------------------------
# Transient failures retry after random(0, min(cap, base * 2**n)) seconds (full jitter), until
# DELIVERY_MAX_ATTEMPTS tries or DELIVERY_MAX_AGE_SECONDS since the delivery was recorded.
DELIVERY_MAX_ATTEMPTS = env_int("DELIVERY_MAX_ATTEMPTS", 8, minimum=1)
DELIVERY_MAX_AGE_SECONDS = env_int("DELIVERY_MAX_AGE_SECONDS", 2 * 86400, minimum=60)
DELIVERY_BACKOFF_BASE_SECONDS = env_float("DELIVERY_BACKOFF_BASE_SECONDS", 30.0, minimum=0.0)
DELIVERY_BACKOFF_CAP_SECONDS = env_float("DELIVERY_BACKOFF_CAP_SECONDS", 3600.0, minimum=0.0)
# Whole-send deadline (connect + every SMTP command), on top of EMAIL_TIMEOUT per socket read.
DELIVERY_SEND_DEADLINE_SECONDS = env_float(
    "DELIVERY_SEND_DEADLINE_SECONDS", max(30.0, EMAIL_TIMEOUT * 3), minimum=0.1
)
# How long a worker owns a delivery it claimed. Longer than Q_TIMEOUT (django-q2 kills a task
# by then), so an expired lease means the worker is gone and the sweeper may take over.
DELIVERY_LEASE_SECONDS = env_int(
    "DELIVERY_LEASE_SECONDS", int(max(Q_TIMEOUT, DELIVERY_SEND_DEADLINE_SECONDS)) + 30, minimum=1
)
if DELIVERY_LEASE_SECONDS <= max(Q_TIMEOUT, DELIVERY_SEND_DEADLINE_SECONDS):
    raise ImproperlyConfigured(
        "Environment variable DELIVERY_LEASE_SECONDS must be greater than Q_TIMEOUT and "
        "DELIVERY_SEND_DEADLINE_SECONDS"
    )
# Messages sent on one SMTP connection before a new one is opened (servers cap a session).
DELIVERY_SMTP_MAX_PER_CONNECTION = env_int("DELIVERY_SMTP_MAX_PER_CONNECTION", 100, minimum=1)
# Outcomes of a drain's sends are written together, every this many messages (a worker
# killed in between may send those again, with the same Message-ID).
DELIVERY_FLUSH_EVERY = env_int("DELIVERY_FLUSH_EVERY", 10, minimum=1)
# The record of an attempt, written before its send, commits without waiting for the disk
# (see proposals/delivery/sending.py _start_attempt); false makes it wait like the rest.
DELIVERY_ATTEMPT_ASYNC_COMMIT = env_bool("DELIVERY_ATTEMPT_ASYNC_COMMIT", True)
DELIVERY_SWEEP_BATCH_SIZE = env_int("DELIVERY_SWEEP_BATCH_SIZE", 500, minimum=1)
# Per-business sends per window (0 = unlimited); over it, sends wait for the next window.
DELIVERY_RATE_LIMIT = env_int("DELIVERY_RATE_LIMIT", 60, minimum=0)
DELIVERY_RATE_WINDOW_SECONDS = env_int("DELIVERY_RATE_WINDOW_SECONDS", 60, minimum=1)
# Scheduled jobs (expiry, reminders): rows per transaction and batches per run.
DELIVERY_JOB_BATCH_SIZE = env_int("DELIVERY_JOB_BATCH_SIZE", 200, minimum=1)
DELIVERY_JOB_MAX_BATCHES = env_int("DELIVERY_JOB_MAX_BATCHES", 10, minimum=1)
# /readyz fails when a due delivery has waited longer than this.
READYZ_MAX_DELIVERY_AGE_SECONDS = env_int("READYZ_MAX_DELIVERY_AGE_SECONDS", 900, minimum=1)
