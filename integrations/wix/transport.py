"""One HTTP exchange with Wix: the pooled connection of this process, the timeouts that cut an
answer at the call's deadline, and reading what Wix said (its error parts, ``Retry-After``)."""

import json
import os
import threading
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
from django.conf import settings
from django.utils import timezone

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
MAX_RESPONSE_BYTES = 1024 * 1024


# The longest Retry-After honoured; the outbox rows retry on their own schedule anyway.
RETRY_AFTER_CAP_SECONDS = 3600.0


class WixError(Exception):
    """A failed call to Wix. ``permanent`` means retrying later will not help."""

    def __init__(
        self,
        message: str,
        permanent: bool = False,
        *,
        status: int | None = None,
        code: str = "",
        data: dict | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.code = code
        self.data = data or {}
        self.retry_after = retry_after


@dataclass
class _Answer:
    status: int
    data: Any
    headers: httpx.Headers


class _Transient(WixError):
    """An attempt failed in a way that may succeed later (network, timeout, deadline).

    ``call()`` retries it; anything else that calls ``access_token`` sees a ``WixError``.
    """


_clients: dict[int, httpx.Client] = {}
_clients_lock = threading.Lock()


def _http() -> httpx.Client:
    # One pooled client per process: a client inherited through fork() must not be reused.
    pid = os.getpid()
    client = _clients.get(pid)
    if client is None:
        with _clients_lock:
            client = _clients.get(pid)
            if client is None:
                client = httpx.Client(
                    base_url=settings.WIX_API_BASE_URL,
                    limits=httpx.Limits(max_connections=50, max_keepalive_connections=10),
                    follow_redirects=False,
                )
                _clients[pid] = client
    return client


def _timeout(remaining: float) -> httpx.Timeout:
    connect = min(settings.WIX_CONNECT_TIMEOUT, remaining)
    read = min(settings.WIX_READ_TIMEOUT, remaining)
    return httpx.Timeout(connect=connect, read=read, write=read, pool=connect)


def _send(method: str, path: str, *, headers: dict, body: Any, deadline: float) -> _Answer:
    """One HTTP exchange, cut at ``deadline`` however slowly the answer trickles in."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise _Transient("deadline exceeded before sending")
    try:
        with _http().stream(
            method,
            settings.WIX_API_BASE_URL + path,
            headers=headers,
            json=body,
            timeout=_timeout(remaining),
        ) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESPONSE_BYTES:
                    raise _Transient("response too large")
                if time.monotonic() > deadline:
                    raise _Transient("deadline exceeded while reading")
                chunks.append(chunk)
    except httpx.TimeoutException as exc:
        raise _Transient(f"timeout ({exc.__class__.__name__})") from None
    except httpx.TransportError as exc:
        raise _Transient(f"connection error ({exc.__class__.__name__})") from None
    raw = b"".join(chunks)
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {"raw": raw[:200].decode(errors="replace")}
    return _Answer(status=response.status_code, data=data, headers=response.headers)


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds Wix asks us to wait, within [0, RETRY_AFTER_CAP_SECONDS] (a huge value would
    overflow the datetime of the next attempt)."""
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - timezone.now()).total_seconds()
        except (TypeError, ValueError, OverflowError):
            return None
    if seconds != seconds:  # NaN
        return None
    return min(max(0.0, seconds), RETRY_AFTER_CAP_SECONDS)


def _wix_error_parts(data: Any) -> tuple[str, str, dict]:
    if not isinstance(data, dict):
        return "", "", {}
    details = data.get("details")
    if not isinstance(details, dict):
        details = {}
    app_error = details.get("applicationError") or {}
    if not isinstance(app_error, dict):
        app_error = {}
    extra = dict(app_error.get("data") or {})
    for key in ("duplicateContactId",):
        if key in app_error:
            extra.setdefault(key, app_error[key])
    message = str(data.get("message") or app_error.get("description") or "")
    return message, str(app_error.get("code") or ""), extra
