"""The request id: taken from ``X-Request-ID`` when sane, else generated."""

import re
import uuid

import structlog

# Ids travel into logs, headers and database columns: letters, digits and a few separators.
_SANE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{7,127}\Z")


def new_request_id() -> str:
    return uuid.uuid4().hex


def sanitize_request_id(value: str | None) -> str:
    if value and _SANE.match(value):
        return value
    return new_request_id()


def current_request_id() -> str | None:
    """The id bound to this request or task, for rows that must carry their origin."""
    return structlog.contextvars.get_contextvars().get("request_id")
