"""The one seam to Wix's REST API.

Every call has connect/read timeouts and a total deadline (``WIX_CALL_DEADLINE``, retries and
waits included); transient failures (5xx, timeouts, dropped connections) are retried with capped
exponential backoff and full jitter under a per-API retry budget; 429 waits for ``Retry-After``;
401 refreshes the token once; a shared circuit breaker per API stops calls during an outage.
Every attempt is recorded as an ``IntegrationCall`` row (inside ``calls_recorded_in_bulk()``,
the drains' batches, in one INSERT at the end of the block). Errors surface as ``WixError``
whose ``permanent`` flag says whether trying again later can help.

The healthy path costs the database nothing per call: the access token is kept in the process
(until its expiry, less ``WIX_TOKEN_REFRESH_MARGIN``; a 401 drops it), the breaker's closed
state is read at most once a second per API (``breaker.HEALTHY_VIEW_SECONDS``), and the call
records of a batch are written together.

Call it outside database transactions: the token lock and the call records must commit on their
own, and a transaction must never stay open while waiting on Wix.
"""

import json
import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog
from django.conf import settings
from django.db import DatabaseError, OperationalError, connection, transaction
from django.utils import timezone

from common import ratelimit
from common.backoff import full_jitter
from common.request_id import current_request_id
from integrations.models import IntegrationCall, WixAccessToken
from integrations.wix import breaker

log = structlog.get_logger(__name__)

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
MAX_RESPONSE_BYTES = 1024 * 1024
# Retries always allowed per API per minute, on top of the ratio of first attempts.
_BUDGET_FLOOR = 10
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


# --- transport ------------------------------------------------------------------------------
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


def reset_transport() -> None:
    """Forget pooled connections, tokens kept in the process and the breakers' healthy view
    (after the base URL changes, e.g. in tests)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
    _tokens.clear()
    breaker.forget()


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


# --- call records -----------------------------------------------------------------------------
# Inside ``calls_recorded_in_bulk()``: the records not yet written (this context's own list).
_pending_calls: ContextVar[list[IntegrationCall] | None] = ContextVar(
    "wix_pending_calls", default=None
)
# A block that makes more calls than this writes what it has so far (retries in an outage).
_PENDING_CALLS_MAX = 500


@contextmanager
def calls_recorded_in_bulk() -> Iterator[None]:
    """Inside, Wix call records are kept and written in one INSERT when the block ends.

    For a drain's batch: one INSERT per batch instead of one per call. Each record keeps the
    time, request id and business of its own call. What it costs: a worker killed inside the
    block loses the records of the calls it made there (its rows are worked again once their
    lease runs out, and those calls are recorded then); a failed INSERT is logged with the
    number of records lost and never fails the rows, whose outcomes are already written.
    """
    pending: list[IntegrationCall] = []
    token = _pending_calls.set(pending)
    try:
        yield
    finally:
        _pending_calls.reset(token)
        _write_calls(pending)


def _write_calls(calls: list[IntegrationCall]) -> None:
    if not calls:
        return
    try:
        IntegrationCall.objects.bulk_create(calls)
    except DatabaseError as exc:
        log.error("wix_call_records_lost", count=len(calls), error=exc.__class__.__name__)
    finally:
        calls.clear()


def _record(
    *,
    business_id: int | None,
    api: str,
    endpoint: str,
    method: str,
    status: int | None,
    ok: bool,
    started: float,
    attempt: int,
    error: str = "",
) -> None:
    call = IntegrationCall(
        business_id=business_id,
        api=api,
        endpoint=endpoint[:200],
        method=method,
        status=status,
        ok=ok,
        duration_ms=max(0, int((time.monotonic() - started) * 1000)),
        attempt=attempt,
        request_id=current_request_id() or "",
        error=error[:500],
        created_at=timezone.now(),
    )
    pending = _pending_calls.get()
    if pending is None:
        call.save(force_insert=True)
        return
    pending.append(call)
    if len(pending) >= _PENDING_CALLS_MAX:
        _write_calls(pending)


# --- retry budget ---------------------------------------------------------------------------
# Per API and clock minute (``common.ratelimit`` windows): the first attempts of calls, and the
# retries, which may be at most _BUDGET_FLOOR + WIX_RETRY_BUDGET_RATIO × the first attempts.
_BUDGET_WINDOW_SECONDS = 60
_UNCAPPED = 2**62  # the calls counter only counts; nothing is refused by it


def _budget_calls(api: str) -> ratelimit.Limit:
    return ratelimit.Limit(
        key=f"wix_budget_calls:{api}", rate=ratelimit.Rate(_UNCAPPED, _BUDGET_WINDOW_SECONDS)
    )


def _budget_retries(api: str, allowed: int) -> ratelimit.Limit:
    return ratelimit.Limit(
        key=f"wix_budget_retries:{api}", rate=ratelimit.Rate(allowed, _BUDGET_WINDOW_SECONDS)
    )


def _budget_note_call(api: str) -> None:
    ratelimit.hit_one(_budget_calls(api))


def _budget_allows_retry(api: str) -> bool:
    """True (and the retry counted) while this minute's retries are within the budget."""
    calls, retries = ratelimit.peek([_budget_calls(api), _budget_retries(api, 0)])
    allowed = math.ceil(_BUDGET_FLOOR + settings.WIX_RETRY_BUDGET_RATIO * calls)
    if retries >= allowed:
        return False  # refused retries are not counted: more calls this minute free more
    return ratelimit.hit_one(_budget_retries(api, allowed)).allowed


def _backoff(attempt: int) -> float:
    return full_jitter(attempt, base=settings.WIX_BACKOFF_BASE, cap=settings.WIX_BACKOFF_CAP)


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
    details = data.get("details") if isinstance(data.get("details"), dict) else {}
    app_error = details.get("applicationError") or {}
    if not isinstance(app_error, dict):
        app_error = {}
    extra = dict(app_error.get("data") or {})
    for key in ("duplicateContactId",):
        if key in app_error:
            extra.setdefault(key, app_error[key])
    message = str(data.get("message") or app_error.get("description") or "")
    return message, str(app_error.get("code") or ""), extra


# --- tokens ---------------------------------------------------------------------------------
def _request_token(*, instance_id: str, business_id: int | None, deadline: float) -> tuple:
    """POST /oauth2/token once; returns (access_token, expires_in) or raises."""
    breaker_probe = breaker.before_call("oauth")
    started = time.monotonic()
    body = {
        "grant_type": "client_credentials",
        "client_id": settings.WIX_APP_ID,
        "client_secret": settings.WIX_APP_SECRET,
        "instance_id": instance_id,
    }
    fields = {"business_id": business_id, "api": "oauth", "endpoint": "/oauth2/token"}
    try:
        answer = _send("POST", "/oauth2/token", headers={}, body=body, deadline=deadline)
    except _Transient as exc:
        _record(
            **fields,
            method="POST",
            status=None,
            ok=False,
            started=started,
            attempt=1,
            error=str(exc),
        )
        breaker.record_failure("oauth", probe=breaker_probe, error=str(exc))
        raise
    ok = answer.status == 200 and bool(answer.data.get("access_token"))
    message, code, _ = _wix_error_parts(answer.data)
    _record(
        **fields,
        method="POST",
        status=answer.status,
        ok=ok,
        started=started,
        attempt=1,
        error="" if ok else (code or message or f"HTTP {answer.status}"),
    )
    if answer.status in RETRYABLE_STATUSES:
        breaker.record_failure("oauth", probe=breaker_probe, error=f"HTTP {answer.status}")
        raise _Transient(f"token endpoint answered {answer.status}")
    breaker.record_success("oauth", probe=breaker_probe)
    if answer.status == 429:
        raise WixError(
            "token endpoint rate limited", status=429, retry_after=_retry_after(answer.headers)
        )
    if not ok:
        # Bad credentials or an instance that no longer has the app: refreshing cannot help.
        raise WixError(
            message or "token request refused", permanent=True, status=answer.status, code=code
        )
    return answer.data["access_token"], int(answer.data.get("expires_in") or 14400)


# Tokens this process holds: instance id → (access token, expires at). Filled from the token
# row or a refresh; a token Wix refused (401) is dropped, and so are an uninstall's. At most
# _TOKENS_HELD (the oldest go first): a worker serving every site must not grow without end.
_tokens: dict[str, tuple[str, datetime]] = {}
_TOKENS_HELD = 10_000


def _hold(instance_id: str, token: str, expires_at: datetime) -> None:
    _tokens.pop(instance_id, None)
    while len(_tokens) >= _TOKENS_HELD:
        try:
            del _tokens[next(iter(_tokens))]
        except (KeyError, RuntimeError, StopIteration):  # another thread changed it meanwhile
            break
    _tokens[instance_id] = (token, expires_at)


def _usable(token: str | None, expires_at: datetime | None, stale: str) -> bool:
    margin = timedelta(seconds=settings.WIX_TOKEN_REFRESH_MARGIN)
    return bool(token and expires_at and expires_at - margin > timezone.now() and token != stale)


def access_token(
    *, instance_id: str, business_id: int | None, deadline: float, stale: str = ""
) -> str:
    """This instance's token: the process's own, else the token row's, else a refresh.

    A refresh is done by one process at a time: the token row is locked (``SELECT … FOR
    UPDATE``; SQLite serialises the write transaction) while one caller asks Wix; the others
    wait on the lock and then find the fresh token. ``stale`` is a token Wix just refused
    (401): it is not handed out again. A caller never waits on the lock past its own deadline
    (PostgreSQL ``lock_timeout``). Given ``stale``, this process's copy is not used: the row
    says whether another process already has a newer token.
    """
    held = None if stale else _tokens.get(instance_id)
    if held and _usable(*held, stale):
        return held[0]
    _tokens.pop(instance_id, None)
    row = (
        WixAccessToken.objects.filter(instance_id=instance_id)
        .values_list("access_token", "expires_at")
        .first()
    )
    if row and _usable(*row, stale):
        _hold(instance_id, *row)
        return row[0]
    failure: Exception | None = None
    nested = connection.in_atomic_block
    try:
        with transaction.atomic():
            previous = _limit_lock_wait(deadline, restore=nested)
            WixAccessToken.objects.bulk_create(
                [WixAccessToken(instance_id=instance_id)], ignore_conflicts=True
            )
            row = WixAccessToken.objects.select_for_update().get(instance_id=instance_id)
            _restore_lock_wait(previous)
            if _usable(row.access_token, row.expires_at, stale):
                _hold(instance_id, row.access_token, row.expires_at)
                return row.access_token
            try:
                token, expires_in = _request_token(
                    instance_id=instance_id, business_id=business_id, deadline=deadline
                )
            except (WixError, breaker.CircuitOpen) as exc:
                # Leave the block normally so that the call records of this failure are kept.
                failure = exc
            else:
                now = timezone.now()
                row.access_token = token
                row.expires_at = now + timedelta(seconds=expires_in)
                row.refreshed_at = now
                row.save(update_fields=["access_token", "expires_at", "refreshed_at"])
                _hold(instance_id, token, row.expires_at)
                log.info("wix_token_refreshed", business_id=business_id, expires_in=expires_in)
                return token
    except OperationalError:
        # Another process holds the lock longer than we may wait: try again later.
        raise _Transient("token refresh by another process is still under way") from None
    raise failure


def _limit_lock_wait(deadline: float, *, restore: bool) -> str | None:
    """Wait for the token lock no longer than the deadline, in one statement.

    The limit is local to the transaction; inside an enclosing one (``restore``) the setting
    it had is returned, to be put back once the lock is held (``SET LOCAL`` outlives a
    released savepoint).
    """
    if connection.vendor != "postgresql":
        return None  # SQLite serialises writers with its own busy timeout
    remaining_ms = max(1, int((deadline - time.monotonic()) * 1000))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', %s, true)",
            [f"{remaining_ms}ms"],
        )
        previous = cursor.fetchone()[0]
    return previous if restore else None


def _restore_lock_wait(previous: str | None) -> None:
    if previous is not None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


def drop_tokens(*, instance_id: str) -> None:
    """Forget this instance's token (uninstalled): the row, and this process's copy."""
    _tokens.pop(instance_id, None)
    WixAccessToken.objects.filter(instance_id=instance_id).delete()


# --- the client -----------------------------------------------------------------------------
class WixClient:
    """Calls Wix on behalf of one business (one app instance)."""

    def __init__(self, *, instance_id: str, business_id: int | None = None) -> None:
        self.instance_id = instance_id
        self.business_id = business_id

    @classmethod
    def for_business(cls, business) -> "WixClient":
        return cls(instance_id=business.instance_id, business_id=business.pk)

    # Endpoints ---------------------------------------------------------------------------
    def get_app_instance(self) -> dict:
        return self.call("apps", "GET", "/apps/v1/instance")

    def get_site_properties(self) -> dict:
        return self.call("site-properties", "GET", "/site-properties/v4/properties")

    def query_contacts_by_email(self, email: str) -> list[dict]:
        body = {"query": {"filter": {"info.emails.email": {"$eq": email}}, "paging": {"limit": 1}}}
        return self.call("contacts", "POST", "/contacts/v4/contacts/query", body).get(
            "contacts", []
        )

    def create_contact(self, info: dict) -> dict:
        return self.call("contacts", "POST", "/contacts/v4/contacts", {"info": info})["contact"]

    # Machinery ---------------------------------------------------------------------------
    def call(self, api: str, method: str, path: str, body: Any = None) -> dict:
        deadline = time.monotonic() + settings.WIX_CALL_DEADLINE
        stale = ""
        refreshed = False
        attempt = 0
        last_error = ""
        _budget_note_call(api)
        while True:
            attempt += 1
            wait: float | None = None
            try:
                return self._attempt(api, method, path, body, deadline, attempt, stale)
            except _Unauthorized as exc:
                if refreshed:
                    raise WixError(
                        "Wix refused a fresh token", permanent=True, status=401
                    ) from None
                refreshed, stale, wait = True, exc.token, 0.0
            except _RateLimited as exc:
                last_error = "rate limited (429)"
                wait = exc.retry_after if exc.retry_after is not None else _backoff(attempt)
                if not self._may_retry(api, attempt, deadline, wait):
                    raise WixError("Wix rate limit", status=429, retry_after=wait) from None
            except _Transient as exc:
                last_error = str(exc)
                wait = _backoff(attempt)
                if not self._may_retry(api, attempt, deadline, wait):
                    raise WixError(f"Wix unavailable: {last_error}") from None
            except breaker.CircuitOpen as exc:
                raise WixError(
                    str(exc),
                    retry_after=max(0.0, (exc.retry_at - timezone.now()).total_seconds())
                    if exc.retry_at
                    else None,
                ) from None
            log.info(
                "wix_call_retry",
                api=api,
                path=path,
                attempt=attempt,
                wait=round(wait, 3),
                error=last_error,
                business_id=self.business_id,
            )
            time.sleep(wait)

    @staticmethod
    def _may_retry(api: str, attempt: int, deadline: float, wait: float) -> bool:
        if attempt >= settings.WIX_MAX_ATTEMPTS:
            return False
        if time.monotonic() + wait >= deadline:
            return False
        if not _budget_allows_retry(api):
            log.warning("wix_retry_budget_exhausted", api=api)
            return False
        return True

    def _attempt(
        self,
        api: str,
        method: str,
        path: str,
        body: Any,
        deadline: float,
        attempt: int,
        stale: str,
    ) -> dict:
        fields = {
            "business_id": self.business_id,
            "api": api,
            "endpoint": path,
            "method": method,
            "attempt": attempt,
        }
        started = time.monotonic()
        try:
            probe = breaker.before_call(api)
        except breaker.CircuitOpen:
            _record(**fields, status=None, ok=False, started=started, error="circuit open")
            raise
        try:
            token = access_token(
                instance_id=self.instance_id,
                business_id=self.business_id,
                deadline=deadline,
                stale=stale,
            )
        except BaseException:
            # The API itself was not reached: leave a half-open probe to be retaken.
            if probe:
                breaker.record_failure(api, probe=True, error="token unavailable")
            raise
        started = time.monotonic()
        try:
            answer = _send(
                method, path, headers={"Authorization": token}, body=body, deadline=deadline
            )
        except _Transient as exc:
            _record(**fields, status=None, ok=False, started=started, error=str(exc))
            breaker.record_failure(api, probe=probe, error=str(exc))
            raise
        status = answer.status
        message, code, data = _wix_error_parts(answer.data)
        ok = 200 <= status < 300
        _record(
            **fields,
            status=status,
            ok=ok,
            started=started,
            error="" if ok else (code or message or f"HTTP {status}"),
        )
        if status in RETRYABLE_STATUSES:
            breaker.record_failure(api, probe=probe, error=f"HTTP {status}")
            raise _Transient(f"HTTP {status}")
        breaker.record_success(api, probe=probe)
        if ok:
            return answer.data if isinstance(answer.data, dict) else {"items": answer.data}
        if status == 401:
            raise _Unauthorized(token)
        if status == 429:
            raise _RateLimited(_retry_after(answer.headers))
        raise WixError(
            message or f"Wix answered {status}", permanent=True, status=status, code=code, data=data
        )


class _Unauthorized(Exception):
    def __init__(self, token: str) -> None:
        super().__init__("token refused")
        self.token = token


class _RateLimited(Exception):
    def __init__(self, retry_after: float | None) -> None:
        super().__init__("rate limited")
        self.retry_after = retry_after
