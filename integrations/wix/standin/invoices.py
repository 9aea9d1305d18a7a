"""Stand-in for Wix's Get Paid Invoices API v4, reduced to what issue 15 needs (docs/wix-apis.md
says which parts the docs confirmed and which are the stand-in's own choice).

    POST /invoices/v4/invoices                 create a STANDALONE draft
    GET  /invoices/v4/invoices/{id}            get
    POST /invoices/v4/invoices/query           query (cursor paging)
    POST /invoices/v4/invoices/{id}/publish    DRAFT → PUBLISHED, number allocated
    POST /invoices/v4/invoices/{id}/send       email it to the customer (adds SENT)
Control:
    GET  /__invoices?instance_id=…             the site's invoices and every send
    POST /__invoices/pay                       {"instance_id", "invoice_id", "amount"}: a payment

Amounts are decimal strings, as Wix sends them. The site must hold the customer's contact
(``customerInfo.contactId``). OVERDUE is added when read after ``dueDate`` until fully paid.
"""

import copy
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from common.money import quantize
from integrations.wix.standin.sites import (
    Answer,
    QueryError,
    cursor_page,
    error,
    now_iso,
    refusal,
    select,
    site,
    sort_items,
)

PREFIX = "/invoices/v4/invoices"
MAX_LINE_ITEMS = 250
QUERY_LIMIT_DEFAULT = 50
QUERY_LIMIT_MAX = 100

# Only the DRAFT row is quoted from Wix's lifecycle page; the others are the stand-in's reading.
ACTIONS = {
    "DRAFT": ["DELETE", "UPDATE", "PUBLISH", "GENERATE_PDF_DOCUMENT"],
    "PUBLISHED": ["UPDATE", "PAY", "SEND", "MARK_AS_SENT", "VOID", "ARCHIVE"],
    "PARTIALLY_PAID": ["UPDATE", "PAY", "SEND", "MARK_AS_SENT", "VOID", "ARCHIVE"],
    "PAID": ["SEND", "ARCHIVE", "GENERATE_PDF_DOCUMENT"],
    "VOIDED": ["ARCHIVE"],
}
FILTERABLE = {
    "id": {"$eq", "$ne", "$in"},
    "status": {"$eq", "$ne", "$in"},
    "title": {"$eq", "$ne", "$in", "$startsWith"},
    "customerInfo.contactId": {"$eq", "$ne", "$in"},
    "createdDate": {"$eq", "$gt", "$gte", "$lt", "$lte"},
    "dueDate": {"$eq", "$gt", "$gte", "$lt", "$lte"},
    "extendedFields.namespaces.*": {"$eq", "$ne", "$in", "$exists"},
}
SORTABLE = {"createdDate", "updatedDate", "dueDate", "title"}


def _denied(handler, instance_id: str) -> Answer | None:
    state = handler.server.state
    with state.lock:
        access = state.instance(instance_id).get("invoices_access", "ok")
    return refusal(access, "Get Paid Invoices")


def _api(handler, body: dict, work) -> Answer:
    def guarded(instance_id: str, payload: dict) -> Answer:
        return _denied(handler, instance_id) or work(instance_id, payload)

    return handler._api(body, guarded)


def _amount(value, what: str, currency: str) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ValueError(f"{what} must be a decimal amount") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{what} must be a non-negative decimal amount")
    return quantize(amount, currency)


def _line_items(raw, currency: str) -> tuple[list[dict], Decimal]:
    if not isinstance(raw, list) or not 0 < len(raw) <= MAX_LINE_ITEMS:
        raise ValueError(f"lineItems must hold 1 to {MAX_LINE_ITEMS} items")
    lines, subtotal = [], Decimal(0)
    for index, item in enumerate(raw):
        kinds = [k for k in ("customItem", "catalogItem") if isinstance(item, dict) and k in item]
        if len(kinds) != 1:
            raise ValueError(f"lineItems[{index}] must have exactly one customItem or catalogItem")
        line = dict(item[kinds[0]])
        if not str(line.get("name") or "").strip():
            raise ValueError(f"lineItems[{index}].name is required")
        quantity = Decimal(str(line.get("quantity", "1")))
        if not quantity.is_finite() or quantity <= 0:
            raise ValueError(f"lineItems[{index}].quantity must be positive")
        price = _amount(line.get("price"), f"lineItems[{index}].price", currency)
        total = quantize(price * quantity, currency)
        line.update(quantity=str(quantity), price=str(price), totals={"subtotal": str(total)})
        lines.append({"id": str(uuid.uuid4()), kinds[0]: line})
        subtotal += total
    return lines, subtotal


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _present(invoice: dict) -> dict:
    # A deep copy: the answer is serialized after the lock is released.
    shown = copy.deepcopy(invoice)
    qualifiers = list(invoice["statusQualifiers"])
    due = invoice.get("dueDate")
    if (
        due
        and invoice["status"] in ("PUBLISHED", "PARTIALLY_PAID")
        and str(due)[:10] < _today()
        and "OVERDUE" not in qualifiers
    ):
        qualifiers.append("OVERDUE")
    shown["statusQualifiers"] = qualifiers
    shown["availableActions"] = list(ACTIONS[invoice["status"]])
    return shown


def _touch(invoice: dict) -> None:
    invoice["revision"] = str(int(invoice["revision"]) + 1)
    invoice["updatedDate"] = now_iso()


def _create(handler, body: dict) -> Answer:
    def work(instance_id: str, payload: dict) -> Answer:
        state = handler.server.state
        given = payload.get("invoice")
        if not isinstance(given, dict):
            return error(400, "invoice is required")
        contact_id = (given.get("customerInfo") or {}).get("contactId")
        with state.lock:
            currency = given.get("currency") or state.instance(instance_id)["currency"]
            known_contact = contact_id in state.contacts[instance_id]
        if not contact_id or not known_contact:
            return error(400, "customerInfo.contactId must be a contact of this site")
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
            return error(400, "currency must be a three-letter ISO-4217 code")
        try:
            lines, subtotal = _line_items(given.get("lineItems"), currency)
        except (ValueError, InvalidOperation) as exc:
            return error(400, str(exc))
        now = now_iso()
        money, zero = str(subtotal), str(quantize(Decimal(0), currency))
        invoice = {
            **{k: v for k, v in given.items() if k not in ("id", "status", "numbering", "totals")},
            "id": str(uuid.uuid4()),
            "revision": "1",
            "createdDate": now,
            "updatedDate": now,
            "status": "DRAFT",
            "statusQualifiers": [],
            "currency": currency,
            "lineItems": lines,
            "reference": {"type": "STANDALONE"},
            "totals": {
                "subtotal": money,
                "discount": zero,
                "tax": zero,
                "total": money,
                "paidAmount": zero,
                "balance": money,
            },
            "archived": False,
            "activityInfo": {},
        }
        with state.lock:
            site(state, instance_id).invoices[invoice["id"]] = invoice
            shown = _present(invoice)
        return 200, {"invoice": shown}, {}

    return _api(handler, body, work)


def _found(handler, instance_id: str, invoice_id: str) -> dict | None:
    # Scoped to the caller's site: another site's invoice id is not found.
    return site(handler.server.state, instance_id).invoices.get(invoice_id)


def _get(handler, body: dict, invoice_id: str) -> Answer:
    def work(instance_id: str, _payload: dict) -> Answer:
        with handler.server.state.lock:
            invoice = _found(handler, instance_id, invoice_id)
            shown = _present(invoice) if invoice else None
        if shown is None:
            return error(404, f"Invoice {invoice_id} not found", "INVOICE_NOT_FOUND")
        return 200, {"invoice": shown}, {}

    return _api(handler, body, work)


def _filtered(items: list[dict], query_filter: dict, sort: list) -> list[dict]:
    chosen = select(items, query_filter, FILTERABLE)
    return sort_items(chosen, sort or [{"fieldName": "createdDate"}], SORTABLE)


def _query(handler, body: dict) -> Answer:
    def work(instance_id: str, payload: dict) -> Answer:
        with handler.server.state.lock:
            items = [_present(i) for i in site(handler.server.state, instance_id).invoices.values()]
        try:
            page, metadata = cursor_page(
                items,
                payload.get("query") or {},
                default_limit=QUERY_LIMIT_DEFAULT,
                maximum=QUERY_LIMIT_MAX,
                filtered=_filtered,
            )
        except QueryError as exc:
            return error(400, str(exc), "INVALID_QUERY")
        return 200, {"invoices": page, "pagingMetadata": metadata}, {}

    return _api(handler, body, work)


def _action(handler, body: dict, invoice_id: str, action: str, change) -> Answer:
    def work(instance_id: str, payload: dict) -> Answer:
        with handler.server.state.lock:
            invoice = _found(handler, instance_id, invoice_id)
            if invoice is None:
                return error(404, f"Invoice {invoice_id} not found", "INVOICE_NOT_FOUND")
            if action not in ACTIONS[invoice["status"]]:
                return error(
                    400,
                    f"{action} is not available for an invoice in status {invoice['status']}",
                    "ACTION_NOT_AVAILABLE",
                )
            change(site(handler.server.state, instance_id), invoice, payload)
            _touch(invoice)
            shown = _present(invoice)
        return 200, {"invoice": shown}, {}

    return _api(handler, body, work)


def _publish_change(data, invoice: dict, _payload: dict) -> None:
    number = data.next_number
    data.next_number += 1
    invoice["status"] = "PUBLISHED"
    invoice["numbering"] = {
        "prefix": "INV-",
        "number": number,
        "displayNumber": f"INV-{number:04d}",
    }
    invoice.setdefault("issueDate", _today())


def _send_change(data, invoice: dict, payload: dict) -> None:
    sent_at = now_iso()
    if "SENT" not in invoice["statusQualifiers"]:
        invoice["statusQualifiers"].append("SENT")
    invoice["activityInfo"] = {**invoice["activityInfo"], "lastSentDate": sent_at}
    data.sends.append({"invoiceId": invoice["id"], "sentDate": sent_at, "request": payload})


def _publish(handler, body: dict, invoice_id: str) -> Answer:
    return _action(handler, body, invoice_id, "PUBLISH", _publish_change)


def _send(handler, body: dict, invoice_id: str) -> Answer:
    return _action(handler, body, invoice_id, "SEND", _send_change)


def route(method: str, path: str):
    """The handler function and its path arguments for an invoices path, or None."""
    if not path.startswith(PREFIX):
        return None
    if path == PREFIX:
        return (_create, ()) if method == "POST" else None
    if path == PREFIX + "/query":
        return (_query, ()) if method == "POST" else None
    parts = path[len(PREFIX) + 1 :].split("/")
    if len(parts) == 1 and parts[0] and method == "GET":
        return _get, (parts[0],)
    if len(parts) == 2 and parts[0] and method == "POST":
        action = {"publish": _publish, "send": _send}.get(parts[1])
        return (action, (parts[0],)) if action else None
    return None


# -- control -------------------------------------------------------------------------------
def control_list(state, instance_id: str) -> dict:
    with state.lock:
        data = site(state, instance_id)
        return {
            "invoices": [_present(i) for i in data.invoices.values()],
            "sends": [dict(s) for s in data.sends],
        }


def control_pay(state, body: dict) -> Answer:
    """A customer's payment reaches the invoice, as Wix eCommerce would report it."""
    with state.lock:
        invoice_id = body.get("invoice_id")
        invoices = site(state, body.get("instance_id") or "").invoices
        invoice = invoices.get(invoice_id) if isinstance(invoice_id, str) else None
        if invoice is None:
            return error(404, "invoice not found")
        if "PAY" not in ACTIONS[invoice["status"]]:
            return error(400, f"an invoice in status {invoice['status']} can't be paid")
        currency = invoice["currency"]
        try:
            amount = _amount(body.get("amount"), "amount", currency)
        except ValueError as exc:
            return error(400, str(exc))
        totals = invoice["totals"]
        balance = Decimal(totals["balance"])
        if not 0 < amount <= balance:
            return error(400, f"amount must be more than 0 and at most the balance {balance}")
        paid = quantize(Decimal(totals["paidAmount"]) + amount, currency)
        totals.update(paidAmount=str(paid), balance=str(quantize(balance - amount, currency)))
        invoice["status"] = "PAID" if amount == balance else "PARTIALLY_PAID"
        if invoice["status"] == "PAID":
            invoice["statusQualifiers"] = [q for q in invoice["statusQualifiers"] if q != "OVERDUE"]
        invoice.setdefault("payments", []).append(
            {"amount": str(amount), "date": datetime.now(UTC).isoformat()}
        )
        _touch(invoice)
        return 200, {"invoice": _present(invoice)}, {}
