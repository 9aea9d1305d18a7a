"""The session settings of a seed run and the threads that run work on their own connections."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

SESSION_SETTINGS = {
    "synchronous_commit": "off",
    "maintenance_work_mem": "'1GB'",
    "work_mem": "'256MB'",
    "statement_timeout": "0",
    # The generated expressions are large: compiling them costs far more than it saves.
    "jit": "off",
    # No foreign-key triggers while filling: the ids are consistent by construction (and
    # checked by the tests); this is what makes 10M-row inserts take seconds, not minutes.
    "session_replication_role": "replica",
}


def in_threads(fn: Callable, items: list, *, workers: int) -> None:
    """``fn(item)`` for every item, ``workers`` at a time, each thread on its own connection."""
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for future in [pool.submit(_with_session, fn, item) for item in items]:
            future.result()


def _with_session(fn: Callable, *args):
    from django.db import connection

    try:
        set_session(connection)
        return fn(*args)
    finally:
        connection.close()


def set_session(connection) -> None:
    with connection.cursor() as cursor:
        for name, value in SESSION_SETTINGS.items():
            cursor.execute(f"SET {name} = {value}")


def reset_session(connection) -> None:
    with connection.cursor() as cursor:
        for name in SESSION_SETTINGS:
            cursor.execute(f"RESET {name}")
