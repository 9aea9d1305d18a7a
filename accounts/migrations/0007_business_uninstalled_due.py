from django.db import migrations, models

from common.migration_ops import AddIndexConcurrently


class Migration(migrations.Migration):
    # CREATE INDEX CONCURRENTLY cannot run in a transaction (common.migration_ops).
    atomic = False

    dependencies = [
        ("accounts", "0006_business_locale_timezone_chosen"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="business",
            index=models.Index(
                condition=models.Q(("status", "uninstalled")),
                fields=["uninstalled_at"],
                name="business_uninstalled_due",
            ),
        ),
    ]
