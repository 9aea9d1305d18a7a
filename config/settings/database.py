"""Database and cache: PostgreSQL (SQLite in development) and the cache every process shares."""

from django.core.exceptions import ImproperlyConfigured

from config.env import env_cache, env_db, env_float, env_int
from config.settings.core import BASE_DIR, PRODUCTION, TESTING

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
    # Django's SQLite without the PostgreSQL-only indexes (common/sqlite/base.py says why).
    DATABASES["default"]["ENGINE"] = "common.sqlite"
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
