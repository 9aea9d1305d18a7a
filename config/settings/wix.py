"""Wix: the API and its credentials, timeouts, retries and breaker, dashboard SSO and the iframe,
webhooks, and the two Wix outbox kinds (contact syncs, webhook receipts).
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_float, env_int, env_list, env_str
from config.settings.core import BASE_DIR, PRODUCTION, required_in_production

# --- Wix -------------------------------------------------------------------------------------
# Production talks to Wix; development and tests to the stand-in (manage.py wix_standin).
# `check --deploy` refuses a loopback URL in production (integrations.checks).
WIX_API_BASE_URL = env_str(
    "WIX_API_BASE_URL", "https://www.wixapis.com" if PRODUCTION else "http://127.0.0.1:8765"
).rstrip("/")
WIX_APP_ID = required_in_production("WIX_APP_ID", "dev-app-id")
WIX_APP_SECRET = required_in_production("WIX_APP_SECRET", "dev-app-secret")
# PEM of the RSA public key Wix signs webhooks with (development uses the stand-in's test key).
WIX_WEBHOOK_PUBLIC_KEY = required_in_production("WIX_WEBHOOK_PUBLIC_KEY", "")
if not WIX_WEBHOOK_PUBLIC_KEY:
    WIX_WEBHOOK_PUBLIC_KEY = (
        BASE_DIR / "integrations/wix/standin/keys/DEV_ONLY_webhook_public.pem"
    ).read_text()
# One-line environments (a dashboard's text box) often carry the PEM's newlines as "\n".
WIX_WEBHOOK_PUBLIC_KEY = WIX_WEBHOOK_PUBLIC_KEY.replace("\\n", "\n").strip() + "\n"


def _is_rsa_public_key(pem: str) -> bool:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
    from cryptography.hazmat.primitives.serialization import load_pem_public_key

    try:
        return isinstance(load_pem_public_key(pem.encode()), RSAPublicKey)
    except (ValueError, TypeError):
        return False


# A key that cannot verify anything would answer every webhook 503: refuse to start instead.
if not _is_rsa_public_key(WIX_WEBHOOK_PUBLIC_KEY):
    raise ImproperlyConfigured(
        "Environment variable WIX_WEBHOOK_PUBLIC_KEY must be the PEM of an RSA public key "
        "('-----BEGIN PUBLIC KEY-----' …), the key Wix shows for the app's webhooks"
    )
# Wix allows ~200 requests/min per instance and wants webhooks answered within 1,250 ms.
WIX_CONNECT_TIMEOUT = env_float("WIX_CONNECT_TIMEOUT", 3.0, minimum=0.05)
WIX_READ_TIMEOUT = env_float("WIX_READ_TIMEOUT", 10.0, minimum=0.05)
# Total time one client call may take, every retry and wait included.
WIX_CALL_DEADLINE = env_float("WIX_CALL_DEADLINE", 20.0, minimum=0.1)
WIX_MAX_ATTEMPTS = env_int("WIX_MAX_ATTEMPTS", 4, minimum=1)
WIX_BACKOFF_BASE = env_float("WIX_BACKOFF_BASE", 0.5, minimum=0.0)
WIX_BACKOFF_CAP = env_float("WIX_BACKOFF_CAP", 8.0, minimum=0.0)
# Retries allowed per minute per API: 10 plus this share of first attempts.
WIX_RETRY_BUDGET_RATIO = env_float("WIX_RETRY_BUDGET_RATIO", 0.2, minimum=0.0)
WIX_BREAKER_THRESHOLD = env_int("WIX_BREAKER_THRESHOLD", 5, minimum=1)
WIX_BREAKER_COOLDOWN = env_float("WIX_BREAKER_COOLDOWN", 30.0, minimum=0.1)
# "Add from catalog" in the editor: the page's own deadline for both parts (products,
# services), how long a page read is kept, and how many of each a page lists.
WIX_CATALOG_DEADLINE = env_float("WIX_CATALOG_DEADLINE", 1.5, minimum=0.1)
WIX_CATALOG_CACHE_SECONDS = env_int("WIX_CATALOG_CACHE_SECONDS", 120, minimum=0)
WIX_CATALOG_PAGE_SIZE = env_int("WIX_CATALOG_PAGE_SIZE", 20, minimum=1)
WIX_TOKEN_REFRESH_MARGIN = env_int("WIX_TOKEN_REFRESH_MARGIN", 300, minimum=0)
WIX_WEBHOOK_MAX_BYTES = env_int("WIX_WEBHOOK_MAX_BYTES", 65536, minimum=1024)
# Rejected webhooks stored per minute (per cache); beyond it they are only logged.
WIX_WEBHOOK_REJECTED_PER_MINUTE = env_int("WIX_WEBHOOK_REJECTED_PER_MINUTE", 600, minimum=0)
WIX_INSTANCE_MAX_AGE = env_int("WIX_INSTANCE_MAX_AGE", 600, minimum=1)
WIX_FRAME_ANCESTORS = env_list(
    "WIX_FRAME_ANCESTORS",
    ["https://*.wix.com", "https://*.wixapps.net", "https://*.editorx.com"],
)
WIX_UNINSTALLED_RETENTION_DAYS = env_int("WIX_UNINSTALLED_RETENTION_DAYS", 90, minimum=1)
# The purge of those businesses, one transaction per batch: at most this many businesses, and
# (a business bigger alone aside) this many of their proposals. A run stops starting batches
# after RETENTION_MAX_BATCHES or WIX_PURGE_SECONDS (well under Q_TIMEOUT); the next daily run
# continues.
WIX_PURGE_BATCH_BUSINESSES = env_int("WIX_PURGE_BATCH_BUSINESSES", 50, minimum=1)
WIX_PURGE_BATCH_PROPOSALS = env_int("WIX_PURGE_BATCH_PROPOSALS", 1000, minimum=1)
WIX_PURGE_SECONDS = env_int("WIX_PURGE_SECONDS", 30, minimum=1)
# Contact syncs, webhook receipts and invoices are outbox kinds (integrations/kinds.py): each reads
# OUTBOX_<KIND>_<NAME> first, then OUTBOX_DEFAULTS (backoff, age limit, lease, batch size).
OUTBOX_CONTACT_SYNC_MAX_ATTEMPTS = env_int("OUTBOX_CONTACT_SYNC_MAX_ATTEMPTS", 12, minimum=1)
OUTBOX_WEBHOOK_RECEIPT_MAX_ATTEMPTS = env_int("OUTBOX_WEBHOOK_RECEIPT_MAX_ATTEMPTS", 10, minimum=1)
OUTBOX_WEBHOOK_RECEIPT_BACKOFF_BASE_SECONDS = env_float(
    "OUTBOX_WEBHOOK_RECEIPT_BACKOFF_BASE_SECONDS", 15.0, minimum=0.0
)
# Invoices (integrations/invoice_steps.py) outlast a Wix outage of a whole day: the age limit
# counts from the payment's due time, and at the backoff's cap (an hour, full jitter) 60 tries
# span about a day and a half.
OUTBOX_WIX_INVOICE_MAX_ATTEMPTS = env_int("OUTBOX_WIX_INVOICE_MAX_ATTEMPTS", 60, minimum=1)
OUTBOX_WIX_INVOICE_MAX_AGE_SECONDS = env_int(
    "OUTBOX_WIX_INVOICE_MAX_AGE_SECONDS", 3 * 86400, minimum=60
)
# Their drains commit without waiting for the disk (integrations/kinds.py explains the risk).
WIX_DRAIN_ASYNC_COMMIT = env_bool("WIX_DRAIN_ASYNC_COMMIT", True)
if PRODUCTION:
    # The dashboard runs in Wix's iframe: a third-party context needs SameSite=None (+Secure).
    SESSION_COOKIE_SAMESITE = "None"
    CSRF_COOKIE_SAMESITE = "None"
