"""Outbox: the defaults every kind of deferred work falls back on (common/outbox)."""

from django.core.exceptions import ImproperlyConfigured

from config.env import env_float, env_int
from config.settings.tasks import Q_TIMEOUT

# --- outbox -----------------------------------------------------------------------------------
# The engine behind every queue (common/outbox). A kind reads <its prefix><NAME> first (the
# deliveries: DELIVERY_MAX_ATTEMPTS, …), then OUTBOX_DEFAULTS. A drain stops claiming after
# DRAIN_SECONDS; with one send deadline on top it must stay well under Q_TIMEOUT.
OUTBOX_DEFAULTS = {
    "MAX_ATTEMPTS": 8,
    "MAX_AGE_SECONDS": 2 * 86400,
    # Read from the environment so that `manage.py chaos` can compress time (as for emails).
    "BACKOFF_BASE_SECONDS": env_float("OUTBOX_BACKOFF_BASE_SECONDS", 30.0, minimum=0.0),
    "BACKOFF_CAP_SECONDS": env_float("OUTBOX_BACKOFF_CAP_SECONDS", 3600.0, minimum=0.0),
    "LEASE_SECONDS": Q_TIMEOUT + 30,
    "BATCH_SIZE": env_int("OUTBOX_BATCH_SIZE", 50, minimum=1),
    "DRAIN_SECONDS": env_float("OUTBOX_DRAIN_SECONDS", min(20.0, Q_TIMEOUT / 4), minimum=0.1),
    "SWEEP_BATCH_SIZE": env_int("OUTBOX_SWEEP_BATCH_SIZE", 500, minimum=1),
}
if OUTBOX_DEFAULTS["DRAIN_SECONDS"] * 2 > Q_TIMEOUT:
    raise ImproperlyConfigured(
        "Environment variable OUTBOX_DRAIN_SECONDS must be under Q_TIMEOUT / 2"
    )
# How long "a drain of this kind is queued" coalesces requests (the sweeper covers a lost one).
OUTBOX_DRAIN_FLAG_SECONDS = env_int("OUTBOX_DRAIN_FLAG_SECONDS", 5, minimum=1)
