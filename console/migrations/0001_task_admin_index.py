"""An index on django-q2's task results for the console's task lists (issue 10).

The failed and successful task lists show the newest first (``ORDER BY stopped DESC``); django-q2
indexes only its successes by group/name/func, so without this every page would sort the whole
table. The table is django-q2's, so this is raw SQL (the model state is not ours to change).
"""

from django.db import migrations

from common.migration_ops import add_raw_index


class Migration(migrations.Migration):
    atomic = False  # CONCURRENTLY on PostgreSQL

    dependencies = [("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more")]

    operations = [
        add_raw_index("task_success_stopped_idx", "django_q_task (success, stopped DESC, id DESC)")
    ]
