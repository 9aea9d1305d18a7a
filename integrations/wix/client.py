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

This module is the client and the door to the rest: ``transport`` (one HTTP exchange, the
errors), ``tokens`` (access tokens), ``call_log`` (the call records) and ``retry_budget``.
"""

import json
import time
from typing import Any

import structlog
from django.conf import settings
from django.utils import timezone

from integrations.wix import breaker
from integrations.wix.call_log import CallTarget, _record, calls_recorded_in_bulk
from integrations.wix.retry_budget import _backoff, _budget_allows_retry, _budget_note_call
from integrations.wix.tokens import _tokens, access_token, drop_tokens, expect_first_token
from integrations.wix.transport import (
    RETRYABLE_STATUSES,
    WixError,
    _clients,
    _clients_lock,
    _retry_after,
    _send,
    _Transient,
    _wix_error_parts,
)

__all__ = [
    "WixClient",
    "WixError",
    "access_token",
    "calls_recorded_in_bulk",
    "drop_tokens",
    "expect_first_token",
    "reset_transport",
]

log = structlog.get_logger(__name__)

INVOICES = "/invoices/v4/invoices"


def reset_transport() -> None:
    """Forget pooled connections, tokens kept in the process and the breakers' healthy view
    (after the base URL changes, e.g. in tests)."""
    with _clients_lock:
        for client in _clients.values():
            client.close()
        _clients.clear()
    _tokens.clear()
    breaker.forget()


# --- the client -----------------------------------------------------------------------------
class _CallFields(CallTarget):
    method: str
    attempt: int


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

    # Catalog reads: Stores Catalog V1 Query Products, Bookings Services V2 Query Services
    # (docs/wix-apis.md §2–3). ``deadline`` (time.monotonic()) is the page's own, shorter one.
    def query_products(
        self, query_filter: dict, *, offset: int, limit: int, deadline: float | None = None
    ) -> dict:
        """One offset page with variants. V1 takes ``filter`` as a JSON-encoded string."""
        body = {
            "query": {
                "filter": json.dumps(query_filter, separators=(",", ":")),
                "paging": {"limit": limit, "offset": offset},
            },
            "includeVariants": True,
        }
        path = "/stores-reader/v1/products/query"
        return self.call("stores", "POST", path, body, deadline=deadline)

    def query_services(
        self, query_filter: dict, *, offset: int, limit: int, deadline: float | None = None
    ) -> dict:
        body = {"query": {"filter": query_filter, "paging": {"limit": limit, "offset": offset}}}
        path = "/bookings/v2/services/query"
        return self.call("bookings", "POST", path, body, deadline=deadline)

    # Get Paid Invoices v4 (docs/wix-apis.md: which parts the docs confirm) ---------------
    def create_invoice(self, invoice: dict) -> dict:
        """Not retried when the outcome is unknown (a timeout, a 5xx, a dropped answer): Wix
        may have created it, and Create Invoice has no idempotency key. The caller looks the
        invoice up by its reference before creating again (integrations.invoice_steps)."""
        body = {"invoice": invoice}
        return self.call("invoices", "POST", INVOICES, body, retry_unknown=False)["invoice"]

    def get_invoice(self, invoice_id: str) -> dict:
        return self.call("invoices", "GET", f"{INVOICES}/{invoice_id}")["invoice"]

    def query_invoices(self, query_filter: dict, *, limit: int = 100) -> list[dict]:
        """One page (Wix's query: at most 100 a page), oldest first."""
        body = {
            "query": {
                "filter": query_filter,
                "sort": [{"fieldName": "createdDate", "order": "ASC"}],
                "cursorPaging": {"limit": limit},
            }
        }
        return self.call("invoices", "POST", f"{INVOICES}/query", body).get("invoices", [])

    def publish_invoice(self, invoice_id: str) -> dict:
        """Not retried blind either: a second publish is refused (the invoice is no draft any
        more); the caller reads the invoice's status before publishing again."""
        path = f"{INVOICES}/{invoice_id}/publish"
        return self.call("invoices", "POST", path, {}, retry_unknown=False)["invoice"]

    def send_invoice(self, invoice_id: str) -> dict:
        """Not retried blind: a second send emails the client again; the caller checks the
        invoice's ``SENT`` qualifier before sending again."""
        path = f"{INVOICES}/{invoice_id}/send"
        return self.call("invoices", "POST", path, {}, retry_unknown=False)["invoice"]

    # Machinery ---------------------------------------------------------------------------
    def call(
        self,
        api: str,
        method: str,
        path: str,
        body: Any = None,
        *,
        retry_unknown: bool = True,
        deadline: float | None = None,
    ) -> dict:
        """``retry_unknown=False``: a failure that may have come after Wix did the work
        (timeout, 5xx, dropped answer) is raised at once, not retried (a 429 still is).
        ``deadline`` (a ``time.monotonic()``) cuts the call sooner than ``WIX_CALL_DEADLINE``."""
        longest = time.monotonic() + settings.WIX_CALL_DEADLINE
        deadline = longest if deadline is None else min(deadline, longest)
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
                if not retry_unknown or not self._may_retry(api, attempt, deadline, wait):
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
        fields: _CallFields = {
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
