"""``Idempotency-Key`` on POST, with Stripe's semantics.

The first request with a key claims it (a committed row, so a concurrent twin sees it), runs,
and stores its status and body; a retry with the same key and the same request gets that
response again (``Idempotent-Replayed: true``) and changes nothing. The same key with other
parameters is a 422, and a retry while the first is still running a 409. Keys belong to the
caller (API key, or user and business for a session) and live ``IDEMPOTENCY_KEY_TTL_HOURS``.

A 5xx or 429 is not stored (nothing was done, or nothing was allowed): the client may retry
with the same key at once (a claim broken with the database is released on a new connection).
A claim whose request died without answering (or whose release failed with the database still
down) is taken over after ``IDEMPOTENCY_LOCK_SECONDS``.
"""

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import (
    DatabaseError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.http import HttpResponse
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from common.request_id import current_request_id
from proposals.api.authentication import active_business, api_key_of, request_business
from proposals.api.problems import Conflict, UnprocessableContent
from proposals.models import IdempotencyKey

log = structlog.get_logger(__name__)

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
# Printable ASCII, no space at either end (HTTP would trim it): the schema documents this.
KEY_PATTERN = rf"^[!-~](?:[ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$"
_KEY = re.compile(KEY_PATTERN)
_STORED_HEADERS = ("Location", "ETag")
# What a dead connection raises (a PostgreSQL restart, a dropped socket).
_BROKEN = (OperationalError, InterfaceError)


def ttl() -> timedelta:
    return timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)


def _scope(request: Request) -> str:
    api_key = api_key_of(request)
    if api_key is not None:
        return f"key:{api_key.pk}"
    business = request_business(request)
    return f"user:{request.user.pk}:b:{business.pk if business else 0}"


def _request_hash(request: Request) -> str:
    body = json.dumps(
        request.data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    assert request.method is not None  # Django sets it on every request it serves
    material = "\n".join((request.method, request.path, body))
    return hashlib.sha256(material.encode("utf-8", "surrogatepass")).hexdigest()


def _clean_key(raw: str) -> str:
    if not _KEY.fullmatch(raw):
        raise exceptions.ValidationError(
            {
                HEADER: [
                    f"Use 1 to {MAX_KEY_LENGTH} printable ASCII characters, no space at either "
                    "end (a UUID is ideal)."
                ]
            }
        )
    return raw


def _claim(*, request: Request, key: str, request_hash: str) -> IdempotencyKey | None:
    """Our claim on the key, or None when its stored response must be replayed."""
    scope = _scope(request)
    business = active_business(request)
    assert request.method is not None  # Django sets it on every request it serves
    for _ in range(2):
        now = timezone.now()
        try:
            with transaction.atomic():
                return IdempotencyKey.objects.create(
                    business=business,
                    scope=scope,
                    key=key,
                    request_hash=request_hash,
                    method=request.method,
                    path=request.path[:500],
                    request_id=current_request_id() or "",
                    locked_at=now,
                )
        except IntegrityError:
            pass
        record = IdempotencyKey.objects.filter(scope=scope, key=key).first()
        if record is None:
            continue  # pruned in between: claim again
        if record.created_at < now - ttl():
            # Expired but not yet pruned: the key starts a new life.
            IdempotencyKey.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.request_hash != request_hash:
            raise UnprocessableContent(
                "This Idempotency-Key was used with a different request; use a new key.",
                code="idempotency_key_reused",
            )
        if record.state == IdempotencyKey.State.DONE:
            log.info("idempotent_replay", idempotency_record_id=record.pk)
            return None
        lock = timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS)
        if record.locked_at < now - lock and _take_over(record, now):
            return record
        raise Conflict(
            "A request with this Idempotency-Key is still in progress; retry shortly.",
            code="idempotency_key_in_use",
        )
    raise Conflict("This Idempotency-Key is changing hands; retry.", code="idempotency_key_in_use")


def _take_over(record: IdempotencyKey, now: datetime) -> bool:
    taken = IdempotencyKey.objects.filter(
        pk=record.pk, state=IdempotencyKey.State.IN_PROGRESS, locked_at=record.locked_at
    ).update(locked_at=now)
    if taken:
        log.warning("idempotency_claim_taken_over", idempotency_record_id=record.pk)
    return bool(taken)


def _replay(*, request: Request, key: str) -> HttpResponse:
    record = IdempotencyKey.objects.get(scope=_scope(request), key=key)
    headers = dict(record.response_headers)
    content_type = headers.pop("Content-Type", "application/json")
    response = HttpResponse(
        record.response_body, status=record.response_status, content_type=content_type
    )
    for name, value in headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def _store(record: IdempotencyKey, response: Response) -> None:
    body = JSONRenderer().render(response.data).decode() if response.data is not None else ""
    headers = {name: response[name] for name in _STORED_HEADERS if name in response}
    headers["Content-Type"] = response.content_type or "application/json"
    IdempotencyKey.objects.filter(pk=record.pk).update(
        state=IdempotencyKey.State.DONE,
        response_status=response.status_code,
        response_body=body,
        response_headers=headers,
        completed_at=timezone.now(),
    )


def _release(record: IdempotencyKey) -> None:
    """Free the claim of a request that stored nothing, so that a retry may run at once.

    When the database itself failed (a restart, a dropped connection), the connection the
    request ran on is likely broken: the release closes it and tries once more on a fresh one.
    If that fails too (the database is still down), the original error is what the caller
    must see, and the claim frees itself after ``IDEMPOTENCY_LOCK_SECONDS`` (its lease).
    """
    for attempt in (1, 2):
        try:
            IdempotencyKey.objects.filter(
                pk=record.pk, state=IdempotencyKey.State.IN_PROGRESS
            ).delete()
        except (DatabaseError, InterfaceError) as exc:  # InterfaceError is no DatabaseError
            # Inside an outer transaction a new connection would lose it: only the lease then.
            if attempt == 1 and isinstance(exc, _BROKEN) and not connection.in_atomic_block:
                connection.close()
                continue
            log.warning(
                "idempotency_release_failed",
                key_id=record.pk,
                error=type(exc).__name__,
                attempts=attempt,
                lock_seconds=settings.IDEMPOTENCY_LOCK_SECONDS,
            )
            return
        if attempt > 1:
            log.info("idempotency_released_on_new_connection", key_id=record.pk)
        return


class _NotStored(Exception):
    """Carries a response out of the transaction that must not keep its effects."""

    def __init__(self, response: Response) -> None:
        self.response = response


def idempotent(handler: Callable) -> Callable:
    """Decorate an APIView ``post``: honour ``Idempotency-Key`` when the client sends one.

    The handler's writes and the stored response commit in one transaction: a crash between
    them leaves neither, and the claim (committed before) is taken over by a later retry.
    """

    @functools.wraps(handler)
    def wrapper(view, request: Request, *args, **kwargs) -> HttpResponse:
        raw = request.headers.get(HEADER)
        if raw is None:
            return handler(view, request, *args, **kwargs)
        key = _clean_key(raw)
        record = _claim(request=request, key=key, request_hash=_request_hash(request))
        if record is None:
            return _replay(request=request, key=key)
        try:
            with transaction.atomic():
                try:
                    response = handler(view, request, *args, **kwargs)
                except Exception as exc:
                    # Render the refusal now so that it is stored like any other answer.
                    response = view.handle_exception(exc)
                if response.status_code >= 500 or response.status_code == 429:
                    raise _NotStored(response)
                _store(record, response)
        except _NotStored as not_stored:
            _release(record)
            return not_stored.response
        except BaseException:
            _release(record)
            raise
        return response

    return wrapper


def idempotency_keys_prune(
    *, now: datetime | None = None, batch_size: int = 1000, max_batches: int = 100
) -> int:
    """Delete keys past their lifetime, oldest first, in bounded batches (the next run goes on).

    Run hourly by the task ``proposals.api.tasks.prune_idempotency_keys``. Correctness does
    not depend on it: an expired key found by a request starts afresh.
    """
    cutoff = (now or timezone.now()) - ttl()
    total = 0
    for _ in range(max_batches):
        ids = list(
            IdempotencyKey.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not ids:
            break
        deleted, _ = IdempotencyKey.objects.filter(pk__in=ids).delete()
        total += deleted
        if len(ids) < batch_size:
            break
    if total:
        log.info("idempotency_keys_pruned", deleted=total)
    return total
