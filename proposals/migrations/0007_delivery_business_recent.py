# Issue 10: the API's deliveries list (a business's emails newest first) walked the global
# (created_at, id) index and filtered by business: for a small business, millions of rows.
from django.db import migrations, models

import common.migration_ops as ops


class Migration(migrations.Migration):
    atomic = False  # indexes are built CONCURRENTLY on PostgreSQL (common.migration_ops)

    dependencies = [("proposals", "0006_scale_admin")]

    operations = [
        ops.AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                fields=["business", "-created_at", "-id"], name="delivery_business_recent_idx"
            ),
        ),
    ]
