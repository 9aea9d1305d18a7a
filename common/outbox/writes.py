"""Write many rows' outcomes in one statement, and see the write through a database restart.

Django's ``bulk_update`` builds a ``CASE WHEN pk = … THEN …`` per field per row: one
statement, but expensive to build (it was a third of a delivery drain's CPU). On PostgreSQL
this is ``UPDATE t SET … FROM (VALUES …) AS v WHERE t.id = v.id``; elsewhere ``bulk_update``.
"""

import time
from collections.abc import Callable
from typing import TypeVar

import structlog
from django.db import InterfaceError, OperationalError, connections
from django.db import connection as db_connection

from common.backoff import full_jitter

log = structlog.get_logger(__name__)

T = TypeVar("T")
# Waits between tries of an outcome write through a database restart (full jitter).
WRITE_RETRY_BASE_SECONDS = 0.25
WRITE_RETRY_CAP_SECONDS = 2.0


def update_rows(model, objs: list, fields: list[str], *, using: str = "default") -> int:
    """Write ``fields`` of every object in ``objs`` (saved rows) in one statement."""
    if not objs:
        return 0
    connection = connections[using]
    if connection.vendor != "postgresql":
        return model._default_manager.using(using).bulk_update(objs, fields)
    meta = model._meta
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    quote = connection.ops.quote_name
    casts = [f"%s::{field.db_type(connection)}" for field in columns]
    row = f"({', '.join(casts)})"
    params = []
    for obj in objs:
        for field in columns:
            params.append(field.get_db_prep_save(getattr(obj, field.attname), connection))
    names = [quote(field.column) for field in columns]
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    sql = " ".join(
        [
            f"UPDATE {quote(meta.db_table)} AS t SET {assignments}",  # noqa: S608
            f"FROM (VALUES {', '.join([row] * len(objs))}) AS v ({', '.join(names)})",
            f"WHERE t.{names[0]} = v.{names[0]}",
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def outcomes_written(kind, write: Callable[[], T]) -> T:
    """Run ``write()`` (a batch's outcomes) and see it through a database restart.

    The outcome of work done outside the database — an email the mail server accepted, a call
    Wix answered — must not be lost to a connection that broke meanwhile: the rows stay
    claimed, their lease runs out, and the work is done again (a second email). On a lost
    connection the write is tried again on a fresh one, with the retry policy's jitter, for
    up to the kind's ``DRAIN_SECONDS`` (a drain then ends within twice its budget, and
    ``DRAIN_SECONDS`` is under ``Q_TIMEOUT / 2``). Inside a transaction it runs once: a retry
    there would redo only its own part.
    """
    deadline = time.monotonic() + float(kind.setting("DRAIN_SECONDS"))
    attempt = 0
    while True:
        try:
            return write()
        except (OperationalError, InterfaceError) as exc:
            attempt += 1
            if db_connection.in_atomic_block or time.monotonic() >= deadline:
                raise
            log.warning(
                "outbox_outcomes_write_retried",
                kind=kind.name,
                attempt=attempt,
                error=exc.__class__.__name__,
            )
            db_connection.close()
            pause = full_jitter(attempt, base=WRITE_RETRY_BASE_SECONDS, cap=WRITE_RETRY_CAP_SECONDS)
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
