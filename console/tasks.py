"""django-q2 tasks of the console: thin wrappers, safe to run twice."""

from console import retention


def prune_history() -> dict:
    """Scheduled hourly: delete successful support records past their retention."""
    return retention.prune_all()
