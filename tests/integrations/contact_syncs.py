"""The contact-sync queue as its tests drive it: its kind, and a drain as a worker runs one."""

from tests.integrations.conftest import run_drains

KIND = "contact_sync"


def drain() -> dict:
    return run_drains(KIND)
