"""django-q2 tasks of the outbox engine (thin doors, safe to run any number of times)."""

from common import outbox


def drain(kind: str) -> dict:
    return outbox.drain(kind)


def sweep() -> dict:
    return outbox.sweep()
