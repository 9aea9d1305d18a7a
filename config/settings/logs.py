"""Logging: structlog through django-structlog, JSON in production and readable in development.

Importing this module configures structlog (``common.logging``).
"""

from common.logging import build_logging_config, configure_structlog
from config.env import env_str
from config.settings.core import PRODUCTION, TESTING

# --- logging ---------------------------------------------------------------------------------
LOG_FORMAT = env_str("LOG_FORMAT", "json" if PRODUCTION else "console", choices=("json", "console"))
LOG_LEVEL = env_str("LOG_LEVEL", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"))
DJANGO_STRUCTLOG_CELERY_ENABLED = False
DJANGO_STRUCTLOG_USER_ID_FIELD = "pk"
# Safe because common.middleware.RequestIdMiddleware has already replaced a hostile value.
DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True

LOGGING = build_logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
configure_structlog(cache_loggers=not TESTING)
