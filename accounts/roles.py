"""Staff roles. The "Support" group's permissions are granted by later work, in one list here."""

from django.contrib.auth.models import Group

SUPPORT_GROUP = "Support"


def ensure_support_group() -> Group:
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    return group
