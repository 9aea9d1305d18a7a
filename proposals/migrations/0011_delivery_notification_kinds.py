# The owner hears of an expiry and the client of a withdrawal (issue 13 pt 9): two email kinds.
# A change of choices only: no SQL runs.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("proposals", "0010_delivery_bounces_suppressions")]

    operations = [
        migrations.AlterField(
            model_name="delivery",
            name="kind",
            field=models.CharField(
                choices=[
                    ("proposal", "Proposal to client"),
                    ("reminder", "Reminder to client"),
                    ("acceptance_confirmation", "Acceptance copy to client"),
                    ("owner_viewed", "Owner: first view"),
                    ("owner_accepted", "Owner: accepted"),
                    ("owner_declined", "Owner: declined"),
                    ("owner_expired", "Owner: expired"),
                    ("client_withdrawn", "Withdrawal notice to client"),
                ],
                max_length=32,
            ),
        ),
    ]
