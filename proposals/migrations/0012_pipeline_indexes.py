# Issue 13, point 12: the dashboard list's pipeline totals (open proposals, accepted this
# month) come from two partial covering indexes, read from the index alone: a business's open
# proposals (2,863 in the biggest seeded business) and its acceptances by date, never a COUNT
# over all its proposals. Built concurrently (common.migration_ops).
from django.db import migrations, models

import common.migration_ops as ops


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("proposals", "0011_delivery_notification_kinds")]

    operations = [
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(
                condition=models.Q(("status__in", ["sent", "viewed"])),
                fields=["business", "currency"],
                include=["total"],
                name="proposal_open_pipeline_idx",
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(
                condition=models.Q(("status", "accepted")),
                fields=["business", "answered_at"],
                include=["currency", "total"],
                name="proposal_accepted_pipeline_idx",
            ),
        ),
    ]
