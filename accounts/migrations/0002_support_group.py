from django.db import migrations

SUPPORT_GROUP = "Support"


def create_support_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=SUPPORT_GROUP)


def remove_support_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=SUPPORT_GROUP).delete()


class Migration(migrations.Migration):
    """The "Support" group; its permissions are granted by the migrations that add the models."""

    dependencies = [("accounts", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_support_group, remove_support_group)]
