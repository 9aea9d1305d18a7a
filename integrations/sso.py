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
    """Queue the site-details refresh. Never raises: the sign-in has committed already."""
    from django_q.tasks import async_task

    try:
        async_task("integrations.tasks.refresh_business", business_id, task_name="wix-refresh")
    except Exception as exc:  # the next install event or visit refreshes the details
        log.warning(
            "wix_business_refresh_enqueue_failed",
            business_id=business_id,
            error=exc.__class__.__name__,
        )


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
    membership = membership_ensure(user=user, business=business, role=role)
    _membership_follow_wix_role(membership, role=role)
    return user, business


def _membership_follow_wix_role(membership: Membership, *, role: str) -> None:
    """Wix decides who owns the site: promote to owner, or demote a former owner to member.

    A role granted here (admin) is kept while Wix does not say the user owns the site.
    """
    current = membership.role
    if current == role or Membership.Role.OWNER not in (current, role):
        return
    Membership.objects.filter(pk=membership.pk, role=current).update(role=role)
    membership.role = role
    log.info(
        "wix_sso_role_changed",
        business_id=membership.business_id,
        user_id=membership.user_id,
        old_role=current,
        new_role=role,
    )
