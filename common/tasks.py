"""Operational tasks."""

import structlog

log = structlog.get_logger(__name__)


def queue_heartbeat(note: str = "") -> str:
    """A no-op task that proves a worker picks up work (smoke tests, runbook checks)."""
    log.info("queue_heartbeat", note=note)
    return "ok"
