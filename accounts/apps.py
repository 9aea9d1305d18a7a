from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_support_group(sender, **kwargs) -> None:
    # The data migration creates the group; this re-creates it after a flush (tests, resets),
    # the way Django itself re-creates permissions and content types.
    from accounts.roles import ensure_support_group

    ensure_support_group()


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        post_migrate.connect(_ensure_support_group, sender=self)
