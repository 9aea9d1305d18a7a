"""Operations: what a free plan may send, /metrics, the support pages' thresholds, and how long
the records kept for support are retained.
"""

from config.env import env_int, env_str

# --- proposals -----------------------------------------------------------------------------
# Proposals a free business may send (first sends) per calendar month; paid plans are unlimited.
FREE_PLAN_MONTHLY_SENDS = env_int("FREE_PLAN_MONTHLY_SENDS", 5, minimum=0)

# --- support and operations ---------------------------------------------------------------
# /metrics answers only with "Authorization: Bearer <METRICS_TOKEN>"; empty turns it off (404).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# Window of the DB-derived metrics computed at scrape time (recent attempts, calls, receipts).
METRICS_WINDOW_SECONDS = env_int("METRICS_WINDOW_SECONDS", 900, minimum=60)
# A pending or sending delivery untouched this long is "stuck" (support page, overview).
SUPPORT_STUCK_DELIVERY_SECONDS = env_int("SUPPORT_STUCK_DELIVERY_SECONDS", 900, minimum=60)
# Most deliveries one bulk retry may touch; narrow the window beyond it.
SUPPORT_BULK_RETRY_MAX = env_int("SUPPORT_BULK_RETRY_MAX", 1000, minimum=1)
# Retention (days) of records kept for support: successes go sooner than failures.
RETENTION_DELIVERY_ATTEMPTS_DAYS = env_int("RETENTION_DELIVERY_ATTEMPTS_DAYS", 30, minimum=1)
RETENTION_FAILED_DELIVERY_ATTEMPTS_DAYS = env_int(
    "RETENTION_FAILED_DELIVERY_ATTEMPTS_DAYS", 180, minimum=1
)
RETENTION_WIX_CALLS_DAYS = env_int("RETENTION_WIX_CALLS_DAYS", 14, minimum=1)
RETENTION_FAILED_WIX_CALLS_DAYS = env_int("RETENTION_FAILED_WIX_CALLS_DAYS", 90, minimum=1)
RETENTION_WEBHOOK_RECEIPTS_DAYS = env_int("RETENTION_WEBHOOK_RECEIPTS_DAYS", 30, minimum=1)
RETENTION_FAILED_WEBHOOK_RECEIPTS_DAYS = env_int(
    "RETENTION_FAILED_WEBHOOK_RECEIPTS_DAYS", 180, minimum=1
)
# Rows per batch (a primary-key range), and batches per kind per hourly run (the next continues).
RETENTION_BATCH_SIZE = env_int("RETENTION_BATCH_SIZE", 1000, minimum=1)
RETENTION_MAX_BATCHES = env_int("RETENTION_MAX_BATCHES", 100, minimum=1)
