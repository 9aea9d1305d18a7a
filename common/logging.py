"""Structured logging: one processor chain for structlog and the standard library.

Every event passes through ``redact`` before it is rendered, so a token, secret, password or
API key can never reach a log line, however deeply it is nested, and emails are masked — in an
email-named field and in any other text (a logged query string, an error message). Tracebacks
are rendered as plain text, never with local variables (a frame's locals hold the app secret,
webhook JWTs and raw emails), and masked like everything else.
"""

import logging
import re
from collections.abc import Mapping
from typing import Any

import structlog

REDACTED = "[redacted]"

_SECRET_KEY = re.compile(
    r"(pass(word|wd)?|secret|token|api[_-]?key|authorization|cookie|signature|private[_-]?key"
    r"|credential|session[_-]?id|csrf)",
    re.IGNORECASE,
)
_EMAIL_VALUE = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")
# Credentials that travel in URLs: the client's proposal link and Wix's signed `instance`.
_SECRETS_IN_TEXT = (
    (re.compile(r"(/p/)[A-Za-z0-9_\-]{8,}"), r"\1[token]"),
    (re.compile(r"([?&]instance=)[^&\s'\"]+"), r"\1[redacted]"),
)
# Keys that name a secret but carry none (ids, counts, flags) stay readable.
_SAFE_SUFFIXES = ("_id", "_ids", "_count", "_prefix", "_expires_at", "_present")


def mask_email(value: str) -> str:
    """``jane.doe@example.com`` → ``j***@example.com``."""
    return _EMAIL_VALUE.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", value)


def mask_urls(value: str) -> str:
    """Hide the credentials a URL may carry (``/p/<token>``, ``?instance=…``)."""
    if "/p/" not in value and "instance=" not in value:
        return value
    for pattern, replacement in _SECRETS_IN_TEXT:
        value = pattern.sub(replacement, value)
    return value


def _is_secret_key(key: str) -> bool:
    lowered = key.lower()
    if lowered.endswith(_SAFE_SUFFIXES):
        return False
    return bool(_SECRET_KEY.search(lowered))


def _clean(key: str, value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return value
    if _is_secret_key(key) and value not in (None, ""):
        return REDACTED
    if isinstance(value, Mapping):
        return {k: _clean(str(k), v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_clean(key, item, depth + 1) for item in value)
    if isinstance(value, str):
        return mask_text(value)
    return value


def mask_text(value: str) -> str:
    """Hide what free text may carry: link tokens, signed instances, email addresses."""
    value = mask_urls(value)
    if "@" in value:
        value = mask_email(value)
    return value


def redact(_logger: Any, _method: str, event_dict: dict) -> dict:
    """structlog processor: mask secrets and emails anywhere in the event."""
    return {key: _clean(key, value) for key, value in event_dict.items()}


def redact_exception(_logger: Any, _method: str, event_dict: dict) -> dict:
    """After ``format_exc_info``: the traceback's text (messages, reprs) masked like the rest."""
    text = event_dict.get("exception")
    if isinstance(text, str):
        event_dict["exception"] = mask_text(text)
    return event_dict


SHARED_PROCESSORS: list = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.processors.StackInfoRenderer(),
    redact,
]


def configure_structlog(*, cache_loggers: bool = True) -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED_PROCESSORS,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        # Tests swap processors to capture events, which cached loggers would ignore.
        cache_logger_on_first_use=cache_loggers,
    )


def build_logging_config(*, log_format: str, level: str) -> dict:
    renderer = (
        "structlog.processors.JSONRenderer"
        if log_format == "json"
        else "structlog.dev.ConsoleRenderer"
    )
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "processors": [
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Plain text for both formats: the console renderer's own (rich) tracebacks would
            # print every frame's local variables.
            structlog.processors.format_exc_info,
            redact_exception,
            _renderer(renderer),
        ],
        "foreign_pre_chain": SHARED_PROCESSORS,
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": formatter},
        "handlers": {
            "console": {"class": "logging.StreamHandler", "formatter": "structured"},
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own config gives "django" a console handler of its own while DEBUG and
            # stops "django.server" propagating: their lines (runserver's 4xx/5xx request
            # lines, "Not Found: /p/<token>") reached stderr raw. No handler of their own here:
            # they go through ours, which hides /p/ tokens and instance values.
            "django": {"level": level, "propagate": True},
            "django.server": {"level": "WARNING", "propagate": True},
            "django.db.backends": {"level": "INFO"},
            "django_structlog": {"level": level},
            "django-q": {"level": level},
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            "mail.log": {"level": "WARNING"},
            # The PDF renderer warns for every screen-only CSS rule it skips and logs its
            # progress at INFO: a dozen lines per PDF that say nothing about the document.
            "weasyprint": {"level": "ERROR"},
            "weasyprint.progress": {"level": "ERROR"},
        },
    }


def _renderer(dotted: str) -> Any:
    if dotted.endswith("JSONRenderer"):
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(
        colors=False, exception_formatter=structlog.dev.plain_traceback
    )


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)


logging.captureWarnings(True)
