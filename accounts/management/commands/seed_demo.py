"""Create (or refresh) the demo business and its login, printing the credentials."""

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Business, Membership, User
from accounts.services import membership_ensure

DEMO_INSTANCE_ID = "demo-instance-0001"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-proposals-2026"  # noqa: S105  (documented local demo login)
ADMIN_EMAIL = "admin@example.com"


class Command(BaseCommand):
    help = "Create the demo business, a demo owner login and a local superuser (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options) -> None:
        business, _ = Business.objects.get_or_create(
            instance_id=DEMO_INSTANCE_ID,
            defaults={
                "site_name": "Demo Studio",
                "site_url": "https://demo-studio.example.com",
                "owner_email": DEMO_EMAIL,
                "currency": "USD",
                "timezone": "Europe/London",
            },
        )
        user, created = User.objects.get_or_create(
            email=DEMO_EMAIL, defaults={"full_name": "Demo Owner"}
        )
        if created or not user.check_password(DEMO_PASSWORD):
            user.set_password(DEMO_PASSWORD)
            user.save(update_fields=["password"])
        membership_ensure(user=user, business=business, role=Membership.Role.OWNER)

        admin, created = User.objects.get_or_create(
            email=ADMIN_EMAIL,
            defaults={"full_name": "Local Admin", "is_staff": True, "is_superuser": True},
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
            admin.save(update_fields=["password"])
        self.stdout.write(
            f"Demo business: {business} ({business.instance_id})\n"
            f"Dashboard login: {DEMO_EMAIL} / {DEMO_PASSWORD}\n"
            f"Admin login:     {ADMIN_EMAIL} / {DEMO_PASSWORD}"
        )
