"""Put many django-q2 tasks on the queue at once.

With the ORM broker every ``async_task`` is one INSERT: a sweeper re-enqueueing 500 rows would
issue 500 queries. ``enqueue_many`` builds exactly the packages ``async_task`` builds (it calls
it, with a broker stand-in that only collects them) and writes them with one bulk INSERT. With
Redis (no database query per task) or in sync mode it is plain ``async_task`` per task.
"""

from collections.abc import Iterable

import structlog

log = structlog.get_logger(__name__)


class _Collector:
    """Takes the signed packages ``async_task`` would push, to write them in one go."""

    def __init__(self, broker) -> None:
        self.list_key = broker.list_key
        self.packages: list[str] = []

    def enqueue(self, package: str) -> int:
        self.packages.append(package)
        return len(self.packages)


def enqueue_many(func: str, args_list: Iterable[tuple], *, task_name: str) -> int:
    """Queue ``func(*args)`` for each args; returns how many were queued. May raise."""
    from django.utils import timezone
    from django_q.brokers import get_broker
    from django_q.brokers.orm import ORM
    from django_q.conf import Conf
    from django_q.tasks import async_task

    args_list = list(args_list)
    if not args_list:
        return 0
    broker = get_broker()
    if not isinstance(broker, ORM) or Conf.SYNC:
        for args in args_list:
            async_task(func, *args, task_name=task_name, broker=broker)
        return len(args_list)
    collector = _Collector(broker)
    for args in args_list:
        async_task(func, *args, task_name=task_name, broker=collector)
    model = broker.get_connection().model
    key = broker.list_key or Conf.CLUSTER_NAME
    now = timezone.now()
    broker.get_connection().bulk_create(
        [model(key=key, payload=package, lock=now) for package in collector.packages]
    )
    return len(collector.packages)
