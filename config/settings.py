"""Settings for every environment, read from the process environment.

``DJANGO_ENV`` is ``development`` (default), ``test`` or ``production``. Production refuses to
start without its secrets; every malformed value stops the process and names the variable.
"""

import warnings
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
    env_cache,
    env_db,
    env_float,
    env_int,
    env_list,
    env_rate,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DJANGO_ENV = env_str("DJANGO_ENV", "development", choices=("development", "test", "production"))
PRODUCTION = DJANGO_ENV == "production"
TESTING = DJANGO_ENV == "test"


def _required_in_production(name: str, dev_default: str) -> str:
    if PRODUCTION:
        try:
            return env_str(name)
        except ImproperlyConfigured as exc:
            raise ImproperlyConfigured(f"{exc} (required when DJANGO_ENV=production)") from None
    return env_str(name, dev_default)


# --- core -------------------------------------------------------------------------------------
SECRET_KEY = _required_in_production(
    "SECRET_KEY", "dev-only-insecure-key-5c1f0e8a9b7d4c3e2f1a0b9c8d7e6f5a4b3c2d1e0f"
)
if PRODUCTION and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("dev-only")):
    raise ImproperlyConfigured(
        "Environment variable SECRET_KEY must be a random value of at least 50 characters "
        "in production"
    )
DEBUG = env_bool("DEBUG", not PRODUCTION and not TESTING)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "Environment variable DEBUG must be false when DJANGO_ENV=production"
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
if PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "Environment variable ALLOWED_HOSTS is required but not set "
        "(required when DJANGO_ENV=production)"
    )
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Base URL used in emails and links that leave the site (the client's proposal link).
SITE_URL = env_str("SITE_URL", "" if PRODUCTION else "http://127.0.0.1:8000").rstrip("/")
if PRODUCTION and not SITE_URL:
    raise ImproperlyConfigured(
        "Environment variable SITE_URL is required but not set "
        "(required when DJANGO_ENV=production)"
    )

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Renders index operator classes (trigram search indexes); does nothing on SQLite.
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "django_structlog",
    "anymail",
    "common",
    "accounts",
    "proposals",
    "integrations",
    "console",
]

MIDDLEWARE = [
    # Outermost, so that latency and status include every other middleware.
    "common.metrics.MetricsMiddleware",
    "common.middleware.RequestIdMiddleware",
    # Every 4xx/5xx under /api/ (from any middleware or view) becomes problem details.
    "common.problems.ApiProblemMiddleware",
    "common.middleware.RejectNulBytesMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "integrations.wix.middleware.WixInstanceSSOMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_structlog.middlewares.RequestMiddleware",
    "accounts.middleware.CurrentBusinessMiddleware",
    # Amounts formatted and parsed as the signed-in business writes them (common.money).
    "common.locale_middleware.BusinessLocaleMiddleware",
    # Innermost: logs each /api/ request while its context (request id, key id) is bound.
    "common.problems.ApiRequestLogMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.current_business",
            ],
        },
    },
]

# --- database and cache --------------------------------------------------------------------
if PRODUCTION:
    DATABASES = {"default": env_db("DATABASE_URL")}
else:
    DATABASES = {"default": env_db("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Statement timeout keeps one slow query from holding a worker forever.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault(
        "options", f"-c statement_timeout={env_int('DB_STATEMENT_TIMEOUT_MS', 30000, minimum=0)}"
    )
    DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web and worker share the SQLite file in development: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})
    DATABASES["default"]["OPTIONS"].setdefault("timeout", 20)
    DATABASES["default"]["OPTIONS"].setdefault("transaction_mode", "IMMEDIATE")
    # A file, not memory, so that tests can run a real worker process against it.
    DATABASES["default"]["TEST"] = {"NAME": str(BASE_DIR / "test_db.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The cache is shared by every process in production (throttles, token locks, circuit breakers,
# django-q2 cluster stats), so it must be Redis there; development uses the database.
if PRODUCTION:
    CACHES = {"default": env_cache("CACHE_URL")}
elif TESTING:
    CACHES = {"default": env_cache("CACHE_URL", "locmemcache://")}
else:
    CACHES = {"default": env_cache("CACHE_URL", "dbcache://django_cache")}
# Every cache call has a deadline: a Redis that stops answering must not hang requests.
REDIS_SOCKET_TIMEOUT = env_float("REDIS_SOCKET_TIMEOUT", 2.0, minimum=0.1)
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    CACHES["default"].setdefault("OPTIONS", {}).update(
        socket_connect_timeout=REDIS_SOCKET_TIMEOUT, socket_timeout=REDIS_SOCKET_TIMEOUT
    )
if PRODUCTION and CACHES["default"]["BACKEND"].endswith("LocMemCache"):
    raise ImproperlyConfigured(
        "Environment variable CACHE_URL must point at a shared cache (redis://…) in production"
    )

# --- auth ------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "/app/"
LOGOUT_REDIRECT_URL = "accounts:login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if TESTING:
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# --- i18n, static ----------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Outside production WhiteNoise serves straight from the app and project static folders.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = DEBUG
if not PRODUCTION:
    # collectstatic only runs for production; elsewhere the missing folder is expected.
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# --- security --------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Client IPs (rate limits, view and acceptance records): how many reverse proxies in front of
# the app append to X-Forwarded-For. 0 trusts only the socket address (REMOTE_ADDR).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)


# Accept/decline POSTs on the client page, per client IP: "<count>/<second|minute|hour|day>".
PUBLIC_ANSWER_RATE_LIMIT = env_rate("PUBLIC_ANSWER_RATE_LIMIT", "10/hour")

# --- email -----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = _required_in_production("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 1025, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "Environment variables EMAIL_USE_TLS and EMAIL_USE_SSL exclude each other"
    )
# Applies to connect and to every read on the SMTP socket: no send can hang a worker.
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10.0, minimum=0.1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Proposals <proposals@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# An email service instead of SMTP, through django-anymail: Mailgun is the one documented and
# tested (EMAIL_BACKEND=anymail.backends.mailgun.EmailBackend). Its tracking webhook
# (/email/webhooks/mailgun/tracking/) reports delivered / bounced / complained and exists only
# with MAILGUN_WEBHOOK_SIGNING_KEY; ANYMAIL_WEBHOOK_SECRET ("user:password") adds basic auth.
ANYMAIL: dict[str, object] = {
    key: value
    for key, value in {
        "MAILGUN_API_KEY": env_str("MAILGUN_API_KEY", ""),
        "MAILGUN_SENDER_DOMAIN": env_str("MAILGUN_SENDER_DOMAIN", ""),
        "MAILGUN_API_URL": env_str("MAILGUN_API_URL", ""),  # EU: https://api.eu.mailgun.net/v3
        "MAILGUN_WEBHOOK_SIGNING_KEY": env_str("MAILGUN_WEBHOOK_SIGNING_KEY", ""),
        "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET", ""),
    }.items()
    if value
}
# Every call to the service: connect and read bounded like the SMTP socket.
ANYMAIL["REQUESTS_TIMEOUT"] = (EMAIL_TIMEOUT, EMAIL_TIMEOUT)
# A tracking webhook signed longer ago than this is refused as a replay (and a token seen
# within it): anymail checks the signature, not its age. Nine hours: Mailgun retries an event
# we did not take for 8 hours (5 min … 4 h apart) and does not say that it signs a retry anew,
# so a shorter window could refuse the bounce of an outage; the used tokens guard the replay.
MAILGUN_WEBHOOK_MAX_AGE_SECONDS = env_int("MAILGUN_WEBHOOK_MAX_AGE_SECONDS", 9 * 3600, minimum=60)
if PRODUCTION and EMAIL_BACKEND == "anymail.backends.mailgun.EmailBackend":
    for _name in ("MAILGUN_API_KEY", "MAILGUN_WEBHOOK_SIGNING_KEY"):
        if _name not in ANYMAIL:
            raise ImproperlyConfigured(
                f"Environment variable {_name} is required when EMAIL_BACKEND is Mailgun's"
            )

# --- Wix -------------------------------------------------------------------------------------
# Production talks to Wix; development and tests to the stand-in (manage.py wix_standin).
# `check --deploy` refuses a loopback URL in production (integrations.checks).
WIX_API_BASE_URL = env_str(
    "WIX_API_BASE_URL", "https://www.wixapis.com" if PRODUCTION else "http://127.0.0.1:8765"
).rstrip("/")
WIX_APP_ID = _required_in_production("WIX_APP_ID", "dev-app-id")
WIX_APP_SECRET = _required_in_production("WIX_APP_SECRET", "dev-app-secret")
# PEM of the RSA public key Wix signs webhooks with (development uses the stand-in's test key).
WIX_WEBHOOK_PUBLIC_KEY = _required_in_production("WIX_WEBHOOK_PUBLIC_KEY", "")
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
# Contact syncs and webhook receipts are outbox kinds (integrations/kinds.py): each reads
# OUTBOX_<KIND>_<NAME> first, then OUTBOX_DEFAULTS (backoff, age limit, lease, batch size).
OUTBOX_CONTACT_SYNC_MAX_ATTEMPTS = env_int("OUTBOX_CONTACT_SYNC_MAX_ATTEMPTS", 12, minimum=1)
OUTBOX_WEBHOOK_RECEIPT_MAX_ATTEMPTS = env_int("OUTBOX_WEBHOOK_RECEIPT_MAX_ATTEMPTS", 10, minimum=1)
OUTBOX_WEBHOOK_RECEIPT_BACKOFF_BASE_SECONDS = env_float(
    "OUTBOX_WEBHOOK_RECEIPT_BACKOFF_BASE_SECONDS", 15.0, minimum=0.0
)
# Their drains commit without waiting for the disk (integrations/kinds.py explains the risk).
WIX_DRAIN_ASYNC_COMMIT = env_bool("WIX_DRAIN_ASYNC_COMMIT", True)
if PRODUCTION:
    # The dashboard runs in Wix's iframe: a third-party context needs SameSite=None (+Secure).
    SESSION_COOKIE_SAMESITE = "None"
    CSRF_COOKIE_SAMESITE = "None"

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

# --- logging ---------------------------------------------------------------------------------
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "console", choices=("json", "console"))
LOG_LEVEL = env_str("LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
DJANGO_STRUCTLOG_CELERY_ENABLED = False
DJANGO_STRUCTLOG_USER_ID_FIELD = "pk"
# Safe because common.middleware.RequestIdMiddleware has already replaced a hostile value.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True

from common.logging import build_logging_config, configure_structlog

LOGGING = build_logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
configure_structlog(cache_loggers=not TESTING)

# --- REST framework (extended by the API work) ---------------------------------------------
# Requests per API key (or signed-in user), and per client IP: "<count>/<second|minute|hour|day>".
API_RATE_LIMIT_PER_KEY = env_rate("API_RATE_LIMIT_PER_KEY", "300/minute")
API_RATE_LIMIT_PER_IP = env_rate("API_RATE_LIMIT_PER_IP", "600/minute")
# How long a POST's Idempotency-Key and its stored response are kept (Stripe: 24 h minimum).
IDEMPOTENCY_KEY_TTL_HOURS = env_int("IDEMPOTENCY_KEY_TTL_HOURS", 24, minimum=24)
# A claim older than this belongs to a request that died (gunicorn kills a worker after its
# 30 s timeout): a retry with the same key takes it over instead of getting 409.
IDEMPOTENCY_LOCK_SECONDS = env_int("IDEMPOTENCY_LOCK_SECONDS", 60, minimum=35)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "proposals.api.authentication.ApiKeyAuthentication",
        "proposals.api.authentication.BusinessSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["proposals.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "proposals.api.problems.exception_handler",
    "DEFAULT_THROTTLE_RATES": {
        "api_key": API_RATE_LIMIT_PER_KEY,
        "api_ip": API_RATE_LIMIT_PER_IP,
    },
    # Client IP for throttling: trust as many X-Forwarded-For hops as there are proxies.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Proposals for Wix API",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "proposals.api.schema.postprocess",
    ],
}
