# Issue 10: indexes of the support console (admin changelists, incidents overview).
from django.db import migrations, models

import common.migration_ops as ops


class Migration(migrations.Migration):
    atomic = False  # indexes are built CONCURRENTLY on PostgreSQL (common.migration_ops)

    dependencies = [("integrations", "0004_scale_jobs")]

    operations = [
        ops.AddIndexConcurrently(
            model_name="integrationcall",
            index=models.Index(fields=["-created_at", "-id"], name="integ_call_created_id_idx"),
        ),
        ops.AddIndexConcurrently(
            model_name="integrationcall",
            index=models.Index(
                condition=models.Q(("ok", False)),
                fields=["-created_at", "-id"],
                name="integ_call_failed_idx",
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="webhookreceipt",
            index=models.Index(fields=["-received_at", "-id"], name="webhook_receipt_received_idx"),
        ),
        ops.AddIndexConcurrently(
            model_name="webhookreceipt",
            index=models.Index(
                fields=["status", "-received_at", "-id"], name="webhook_receipt_status_idx"
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="wixcontactsync",
            index=models.Index(fields=["business", "-id"], name="contact_sync_business_idx"),
        ),
    ]
