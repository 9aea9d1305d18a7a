"""Dashboard single sign-on from a verified Wix instance: find or create the user and business."""

import structlog
from django.db import IntegrityError, transaction

from accounts.models import Business, Membership, User
from accounts.services import membership_ensure
from integrations import lifecycle
from integrations.models import WixUserLink
from integrations.wix.sso import InstanceRefused, WixInstance

log = structlog.get_logger(__name__)

SSO_EMAIL_DOMAIN = "wix-sso.invalid"


def _enqueue_refresh(business_id: int) -> None:
    from django_q.tasks import async_task

    async_task("integrations.tasks.refresh_business", business_id, task_name="wix-refresh")


def _user_for(wix_user_id: str) -> User:
    link = WixUserLink.objects.select_related("user").filter(wix_user_id=wix_user_id).first()
    if link is not None:
        return link.user
    # Never matched to an existing account by email: an email from Wix proves nothing here.
    try:
        with transaction.atomic():
            user = User.objects.create_user(email=f"wix-{wix_user_id}@{SSO_EMAIL_DOMAIN}")
            WixUserLink.objects.create(wix_user_id=wix_user_id, user=user)
    except IntegrityError:  # a concurrent first visit won
        return WixUserLink.objects.select_related("user").get(wix_user_id=wix_user_id).user
    log.info("wix_sso_user_created", user_id=user.pk)
    return user


def sso_sign_in(*, instance: WixInstance) -> tuple[User, Business]:
    """The user and business a verified instance stands for (created on first visit)."""
    business = Business.objects.filter(instance_id=instance.instance_id).first()
    if business is None or not business.is_active:
        # A freshly signed instance proves the app is installed, even if the webhook is late.
        business, changed = lifecycle.business_install(
            instance_id=instance.instance_id, occurred_at=instance.signed_at
        )
        if changed:
            transaction.on_commit(lambda: _enqueue_refresh(business.pk))
    if not business.is_active:
        raise InstanceRefused("not_installed")
    user = _user_for(instance.wix_user_id)
    if not user.is_active:
        raise InstanceRefused("user_inactive")
    role = Membership.Role.OWNER if instance.is_owner else Membership.Role.MEMBER
    membership_ensure(user=user, business=business, role=role)
    return user, business
