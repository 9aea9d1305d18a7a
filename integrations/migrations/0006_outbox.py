# Issue 11: contact syncs and webhook receipts on the outbox engine (common.outbox).
# Renames are metadata-only on PostgreSQL; the indexes are built CONCURRENTLY.
from datetime import timedelta

import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

import common.migration_ops as ops


def leases_and_due_times(apps, schema_editor):
    """claimed_at was when a claim started; claimed_until is when its lease ends. A verified
    pending receipt was due when its next_attempt_at was NULL; the engine needs a due time."""
    lease = timedelta(seconds=settings.Q_TIMEOUT + 30)
    WebhookReceipt = apps.get_model("integrations", "WebhookReceipt")
    WixContactSync = apps.get_model("integrations", "WixContactSync")
    WebhookReceipt.objects.filter(status="pending", next_attempt_at__isnull=True).update(
        next_attempt_at=models.F("received_at")
    )
    WebhookReceipt.objects.filter(status="processing", claimed_until__isnull=False).update(
        claimed_until=models.F("claimed_until") + lease
    )
    WixContactSync.objects.filter(status="running", claimed_until__isnull=False).update(
        claimed_until=models.F("claimed_until") + lease
    )


class Migration(migrations.Migration):
    atomic = False  # indexes are built CONCURRENTLY on PostgreSQL (common.migration_ops)

    dependencies = [("integrations", "0005_scale_admin")]

    operations = [
        migrations.RenameField("webhookreceipt", "attempts", "attempt_count"),
        migrations.RenameField("webhookreceipt", "claimed_at", "claimed_until"),
        migrations.RenameField("webhookreceipt", "error", "last_error"),
        migrations.AddField(
            model_name="webhookreceipt",
            name="retried_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RenameField("wixcontactsync", "attempts", "attempt_count"),
        migrations.RenameField("wixcontactsync", "claimed_at", "claimed_until"),
        migrations.RenameField("wixcontactsync", "error", "last_error"),
        migrations.AddField(
            model_name="wixcontactsync",
            name="retried_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="wixcontactsync",
            name="next_attempt_at",
            field=models.DateTimeField(blank=True, default=django.utils.timezone.now, null=True),
        ),
        migrations.RunPython(leases_and_due_times, migrations.RunPython.noop, elidable=False),
        ops.AddIndexConcurrently(
            model_name="webhookreceipt",
            index=models.Index(
                condition=models.Q(("status__in", ["pending"])),
                fields=["next_attempt_at", "id"],
                name="webhook_receipt_due_idx",
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="webhookreceipt",
            index=models.Index(
                condition=models.Q(("status", "processing")),
                fields=["claimed_until", "id"],
                name="webhook_receipt_lease_idx",
            ),
        ),
        ops.RemoveIndexConcurrently(
            model_name="webhookreceipt", name="integration_status_a0f578_idx"
        ),
        ops.AddIndexConcurrently(
            model_name="wixcontactsync",
            index=models.Index(
                condition=models.Q(("status__in", ["pending"])),
                fields=["next_attempt_at", "id"],
                name="contact_sync_due_idx",
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="wixcontactsync",
            index=models.Index(
                condition=models.Q(("status", "running")),
                fields=["claimed_until", "id"],
                name="contact_sync_lease_idx",
            ),
        ),
        ops.RemoveIndexConcurrently(
            model_name="wixcontactsync", name="integration_status_8c6856_idx"
        ),
    ]
