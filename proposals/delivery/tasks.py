"""django-q2 tasks: thin doors that call the delivery services (each safe to run twice)."""

from proposals.delivery import jobs, services


def execute_delivery(delivery_id: int) -> str:
    return services.delivery_execute(delivery_id)


def sweep_deliveries() -> dict:
    return services.delivery_sweep()


def expire_proposals() -> int:
    return jobs.proposals_expire_due()


def send_reminders() -> int:
    return jobs.reminders_send_due()
