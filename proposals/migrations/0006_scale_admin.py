# Issue 10: indexes of the support console (admin changelists, support search).
import django.db.models.functions.text
from django.db import migrations, models

import common.migration_ops as ops


class Migration(migrations.Migration):
    atomic = False  # indexes are built CONCURRENTLY on PostgreSQL (common.migration_ops)

    dependencies = [("proposals", "0005_scale_api")]

    operations = [
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(fields=["-created_at", "-id"], name="proposal_created_idx"),
        ),
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(
                fields=["status", "-created_at", "-id"], name="proposal_status_created_idx"
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="proposal",
            index=models.Index(fields=["number", "-created_at", "-id"], name="proposal_number_idx"),
        ),
        ops.AddIndexConcurrently(
            model_name="proposalversion",
            index=models.Index(
                django.db.models.functions.text.Lower("recipient_email"),
                name="version_recipient_ci",
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="acceptance",
            index=models.Index(
                django.db.models.functions.text.Lower("email"), name="acceptance_email_ci"
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="activity",
            index=models.Index(
                fields=["kind", "-created_at", "-id"], name="activity_kind_created_idx"
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(fields=["-created_at", "-id"], name="delivery_created_idx"),
        ),
        ops.AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                fields=["state", "-created_at", "-id"], name="delivery_state_created_idx"
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="delivery",
            index=models.Index(
                django.db.models.functions.text.Lower("recipient"), name="delivery_recipient_ci"
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="acceptance",
            index=models.Index(fields=["business", "-id"], name="acceptance_business_idx"),
        ),
        ops.AddIndexConcurrently(
            model_name="proposalversion",
            index=models.Index(fields=["business", "-id"], name="version_business_idx"),
        ),
        ops.AddIndexConcurrently(
            model_name="client",
            index=models.Index(fields=["business", "-id"], name="client_business_id_idx"),
        ),
    ]
