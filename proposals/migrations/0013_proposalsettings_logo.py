# The business's logo (issue 13 pt 11): a storage name, empty by default. Adding a column with
# a constant default is a catalog change on PostgreSQL 11+ (no table rewrite).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("proposals", "0012_pipeline_indexes")]

    operations = [
        migrations.AddField(
            model_name="proposalsettings",
            name="logo",
            field=models.CharField(blank=True, max_length=200),
        ),
    ]
