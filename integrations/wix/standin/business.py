"""Routes of the stand-in's business APIs (Get Paid invoices, Stores, Bookings): ``server.py``
asks here for paths its own table does not know, so those APIs get the same authorization,
rate limit and switchable faults as every other stand-in endpoint."""

import functools

from integrations.wix.standin import catalog, invoices
from integrations.wix.standin.sites import error


def route(handler, method: str, path: str):
    """A ``handler(body)`` callable for a business API path, or None."""
    for module in (invoices, catalog):
        found = module.route(method, path)
        if found:
            function, arguments = found
            return functools.partial(_call, function, handler, arguments)
    return None


def _call(function, handler, arguments: tuple, body: dict):
    return function(handler, body, *arguments)


def control(handler, method: str, path: str, body: dict, query: dict) -> None:
    """Control endpoints of the business APIs; anything else is an unknown control endpoint."""
    state = handler.server.state
    if path == "/__invoices" and method == "GET":
        instance_id = (query.get("instance_id") or [""])[0]
        return handler._send(200, invoices.control_list(state, instance_id))
    if path == "/__invoices/pay" and method == "POST":
        return handler._send(*invoices.control_pay(state, body)[:2])
    return handler._send(*error(404, "unknown control endpoint")[:2])
