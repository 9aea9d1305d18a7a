"""django-q2 tasks: thin doors that call the delivery services (each safe to run twice)."""

from proposals.delivery import jobs, sending


def execute_delivery(delivery_id: int) -> str:
    # Deliveries go out through the outbox drain (common.outbox.tasks.drain "delivery"); this
    # door sends one row, for tasks queued before the drain existed and for support tools.
    return sending.delivery_execute(delivery_id)


def expire_proposals() -> int:
    return jobs.proposals_expire_due()


def send_reminders() -> int:
    return jobs.reminders_send_due()
