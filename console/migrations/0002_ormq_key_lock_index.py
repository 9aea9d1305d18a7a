"""An index on django-q2's ORM broker queue: tasks of one queue by lock time (issue 10).

``/readyz`` (the oldest waiting task) and ``/metrics`` (tasks in flight) filter the queue by
``key`` and ``lock``, and so does the broker's own dequeue; django-q2 indexes neither column,
so under a backlog every probe and every poll would read the whole queue table.
"""

from django.db import migrations

from common.migration_ops import add_raw_index


class Migration(migrations.Migration):
    atomic = False  # CONCURRENTLY on PostgreSQL

    dependencies = [("console", "0001_task_admin_index")]

    operations = [add_raw_index("ormq_key_lock_idx", "django_q_ormq (key, lock)")]
