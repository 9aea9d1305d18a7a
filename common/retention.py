"""Deleting expired records in bounded batches (the retention jobs of each app use it).

Each app owns the rules for its own records (``proposals.delivery.retention``,
``integrations.retention``); the console's scheduled job runs them all.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Model, Q


def ago(days: int, now: datetime) -> datetime:
    return now - timedelta(days=days)


def delete_in_batches(model: type[Model], rules: list[tuple[Q, str]]) -> int:
    """Delete what each ``(filter, time field)`` rule marks as expired, oldest first.

    Each batch is two short queries, both on an index whose leading column the rule names
    (the time column, or the outcome then time): the ids of the ``RETENTION_BATCH_SIZE``
    oldest matching rows, then one DELETE of those ids. Rules run in order (successes first)
    and share the kind's budget of ``RETENTION_MAX_BATCHES`` batches; the next run continues.
    Nothing is re-read: kept rows (failures within their longer retention, work in progress)
    never sit in front of the expired ones.
    """
    size, budget, deleted = settings.RETENTION_BATCH_SIZE, settings.RETENTION_MAX_BATCHES, 0
    for condition, time_field in rules:
        while budget > 0:
            budget -= 1
            ids = list(
                model._default_manager.filter(condition)
                .order_by(time_field)
                .values_list("pk", flat=True)[:size]
            )
            if ids:
                # No cascades or signals on these models: Django issues one DELETE … IN (ids).
                _, per_model = model._default_manager.filter(pk__in=ids).delete()
                deleted += per_model.get(model._meta.label, 0)
            if len(ids) < size:
                break
    return deleted
