"""Access tokens: asked of Wix's OAuth endpoint, kept in the process until they expire and in
the ``WixAccessToken`` row, whose lock makes one refresh per instance across processes."""

import time
from collections.abc import Collection
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone

from integrations.models import WixAccessToken
from integrations.wix import breaker
from integrations.wix.call_log import CallTarget, _record
from integrations.wix.transport import (
    RETRYABLE_STATUSES,
    WixError,
    _retry_after,
    _send,
    _Transient,
    _wix_error_parts,
)

log = structlog.get_logger(__name__)


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
    fields: CallTarget = {"business_id": business_id, "api": "oauth", "endpoint": "/oauth2/token"}
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


# Instances whose business this process has just created (an install of a new site): their
# first token call does not read for a row that is not there yet, it inserts it (a row that
# was there after all makes the INSERT fail, and the call takes the general path). Bounded: a
# hint never used is forgotten with the others once there are too many.
_new_instances: set[str] = set()
_NEW_INSTANCES_MAX = 1000


def expect_first_token(*, instance_id: str) -> None:
    """This instance has no token row as far as this process knows (its business is new)."""
    if len(_new_instances) >= _NEW_INSTANCES_MAX:
        _new_instances.clear()
    _new_instances.add(instance_id)


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
    stored = None
    if instance_id in _new_instances:
        _new_instances.discard(instance_id)
    else:
        stored = (
            WixAccessToken.objects.filter(instance_id=instance_id)
            .values_list("access_token", "expires_at")
            .first()
        )
    if stored and _usable(*stored, stale):
        token, expires_at = stored
        assert expires_at is not None  # _usable refuses a token without an expiry
        _hold(instance_id, token, expires_at)
        return token
    try:
        return _refresh(
            instance_id=instance_id,
            business_id=business_id,
            deadline=deadline,
            stale=stale,
            first=stored is None,
        )
    except _RowMadeMeanwhile:
        # Another process made the row since we read: its lock decides, as for any refresh.
        return _refresh(
            instance_id=instance_id, business_id=business_id, deadline=deadline, stale=stale
        )


class _RowMadeMeanwhile(Exception):
    pass


def _refresh(
    *, instance_id: str, business_id: int | None, deadline: float, stale: str, first: bool = False
) -> str:
    """Under the token row's lock: the token another process just stored, else Wix's.

    ``first``: the instance had no row when read, so it gets one in a single INSERT, which
    holds the row as the lock does (a concurrent insert of the same instance waits for this
    transaction, then finds the row); ``_RowMadeMeanwhile`` when another process made it.
    """
    failure: Exception | None = None
    nested = connection.in_atomic_block
    try:
        with transaction.atomic():
            previous = _limit_lock_wait(deadline, restore=nested)
            if first:
                try:
                    row = WixAccessToken.objects.create(instance_id=instance_id)
                except IntegrityError:
                    raise _RowMadeMeanwhile from None  # the block rolls back; nothing kept
            else:
                WixAccessToken.objects.bulk_create(
                    [WixAccessToken(instance_id=instance_id)], ignore_conflicts=True
                )
                row = WixAccessToken.objects.select_for_update().get(instance_id=instance_id)
            _restore_lock_wait(previous)
            if _usable(row.access_token, row.expires_at, stale):
                assert row.expires_at is not None  # _usable refuses a token without an expiry
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


def drop_tokens(*, instance_ids: Collection[str]) -> None:
    """Forget these instances' tokens (uninstalled): the rows, and this process's copies."""
    for instance_id in instance_ids:
        _tokens.pop(instance_id, None)
    WixAccessToken.objects.filter(instance_id__in=instance_ids).delete()
