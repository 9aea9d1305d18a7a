"""Staff roles. The "Support" group's permissions are granted by later work, in one list here."""

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

SUPPORT_GROUP = "Support"

# Support sees everything (view) and runs the audited support actions; it never changes
# proposal content or accounts. Secrets (API key hashes, Wix tokens) are excluded from the admin
# pages themselves, so a view permission never shows them.
SUPPORT_VIEW_APPS = ("accounts", "proposals", "integrations", "django_q")
SUPPORT_EXTRA_PERMISSIONS = (("auth", "view_group"), ("accounts", "run_support_actions"))


def _support_permissions() -> list[Permission]:
    extra = Q()
    for app_label, codename in SUPPORT_EXTRA_PERMISSIONS:
        extra |= Q(content_type__app_label=app_label, codename=codename)
    viewing = Q(content_type__app_label__in=SUPPORT_VIEW_APPS, codename__startswith="view_")
    return list(Permission.objects.filter(viewing | extra))


def ensure_support_group() -> Group:
    """Create the group and set its permissions to exactly the list above (idempotent)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    # post_migrate reaches accounts before proposals and integrations have their permission
    # rows; create them now (idempotent) so the grant below is complete on a fresh database.
    for app_config in apps.get_app_configs():
        if app_config.label in SUPPORT_VIEW_APPS:
            create_permissions(app_config, verbosity=0)
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    group.permissions.set(_support_permissions())
    return group
