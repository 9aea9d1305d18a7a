# Issue 10: indexes of the support console (business search, audit log search).
import django.db.models.functions.text
from django.db import migrations, models

import common.migration_ops as ops


class Migration(migrations.Migration):
    atomic = False  # indexes are built CONCURRENTLY on PostgreSQL (common.migration_ops)

    dependencies = [("accounts", "0004_staff_action")]

    operations = [
        ops.AddIndexConcurrently(
            model_name="business",
            index=models.Index(
                django.db.models.functions.text.Lower("site_name"), name="business_site_name_ci"
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="business",
            index=models.Index(
                django.db.models.functions.text.Lower("site_url"), name="business_site_url_ci"
            ),
        ),
        ops.AddIndexConcurrently(
            model_name="staffaction",
            index=models.Index(
                django.db.models.functions.text.Lower("actor_email"), name="staff_action_actor_ci"
            ),
        ),
    ]
