"""Carry the log context (request id, business, user) from the enqueuing code into the task.

django-q2 sends ``pre_enqueue`` with the task dict before it is signed and stored, and
``pre_execute`` / ``post_execute_in_worker`` around the call inside the worker process.
"""

from typing import Any

import structlog
from django.dispatch import receiver
from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute

CONTEXT_KEY = "log_context"
_OUTER_KEY = "_outer_log_context"
_CARRIED = ("request_id", "business_id", "user_id", "correlation_id")


@receiver(pre_enqueue)
def attach_log_context(sender: Any, task: dict, **kwargs: Any) -> None:
    context = structlog.contextvars.get_contextvars()
    task[CONTEXT_KEY] = {key: context[key] for key in _CARRIED if context.get(key) is not None}


@receiver(pre_execute)
def bind_log_context(sender: Any, func: Any, task: dict, **kwargs: Any) -> None:
    # A sync task (tests, Q_CLUSTER sync) runs inside its caller: keep the caller's context.
    task[_OUTER_KEY] = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(
        **task.get(CONTEXT_KEY, {}), task_id=task.get("id"), task_name=task.get("name")
    )


@receiver(post_execute_in_worker)
def clear_log_context(sender: Any, func: Any, task: dict, **kwargs: Any) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**task.pop(_OUTER_KEY, {}))
