"""Dashboard single sign-on from a verified Wix instance: find or create the user and business."""

import structlog
from django.contrib.auth.models import AnonymousUser
from django.db import IntegrityError, transaction

from accounts.models import Business, Membership, User
from accounts.services import membership_ensure, membership_role_change, user_create, user_rename
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


def _sso_email(wix_user_id: str) -> str:
    return f"wix-{wix_user_id}@{SSO_EMAIL_DOMAIN}"


def _is_sso_account(user: User) -> bool:
    """A user made here for a Wix user (no password, no address of its own)."""
    return user.email.endswith(f"@{SSO_EMAIL_DOMAIN}")


def is_sso_account_of(user: User | AnonymousUser, instance: WixInstance) -> bool:
    """Whether ``user`` is the account made here for the Wix user this instance signs in."""
    return isinstance(user, User) and user.email == _sso_email(instance.wix_user_id)


def owner_account(*, business: Business, instance: WixInstance) -> User | None:
    """The business's own owner account that the Wix site owner opening it is, if any.

    An email from Wix proves nothing on its own (anyone may put any address on a site), so
    this only ever names an account that is ALREADY an owner of THIS business, whose address
    is the one Wix gives for the site's owner (``owner_email``, fetched from Wix's API), and
    that belongs to no other business (the link hands the whole account to the Wix user).
    Never a staff or inactive account, never one already linked to another Wix user, and only
    for the site's owner themself: a co-owner also has Wix's OWNER permissions, but is not the
    person whose address ``owner_email`` is.
    """
    if not instance.is_site_owner or not business.owner_email:
        return None
    linked = WixUserLink.objects.exclude(wix_user_id=instance.wix_user_id).values("user_id")
    candidates = list(
        User.objects.filter(
            memberships__business=business,
            memberships__role=Membership.Role.OWNER,
            email__iexact=business.owner_email,
            is_active=True,
            is_staff=False,
            is_superuser=False,
        )
        .exclude(pk__in=linked)
        .distinct()[:2]
    )
    if len(candidates) != 1:
        return None
    account = candidates[0]
    if Membership.objects.filter(user=account).exclude(business=business).exists():
        return None
    return account


def _link(wix_user_id: str, user: User) -> User:
    """Link the Wix user to ``user``; a concurrent first visit's link wins."""
    try:
        with transaction.atomic():
            WixUserLink.objects.create(wix_user_id=wix_user_id, user=user)
    except IntegrityError:
        return WixUserLink.objects.select_related("user").get(wix_user_id=wix_user_id).user
    return user


def _user_for(instance: WixInstance, business: Business) -> User:
    link = (
        WixUserLink.objects.select_related("user").filter(wix_user_id=instance.wix_user_id).first()
    )
    if link is not None and not _is_sso_account(link.user):
        return link.user
    account = owner_account(business=business, instance=instance)
    if link is not None:
        if account is None:
            return link.user
        # Wix learnt the owner's address after the first visit: the owner's own account from
        # now on (what the stand-in user did stays theirs).
        WixUserLink.objects.filter(pk=link.pk).update(user=account)
        log.info(
            "wix_sso_linked_to_owner_account",
            business_id=business.pk,
            user_id=account.pk,
            previous_user_id=link.user_id,
        )
        return account
    if account is not None:
        user = _link(instance.wix_user_id, account)
        log.info("wix_sso_linked_to_owner_account", business_id=business.pk, user_id=user.pk)
        return user
    try:
        with transaction.atomic():
            user = user_create(
                email=_sso_email(instance.wix_user_id),
                full_name=readable_name(instance=instance, business=business),
            )
            WixUserLink.objects.create(wix_user_id=instance.wix_user_id, user=user)
    except IntegrityError:  # a concurrent first visit won
        return WixUserLink.objects.select_related("user").get(wix_user_id=instance.wix_user_id).user
    log.info("wix_sso_user_created", user_id=user.pk)
    return user


def readable_name(*, instance: WixInstance, business: Business) -> str:
    """What the dashboard and timelines call a Wix user who has no account of their own.

    The instance names no person: the site's owner is called by the address Wix gives for
    the site's owner (once known), anyone else (a co-owner too) by role and a short, stable
    part of their id.
    """
    if instance.is_site_owner:
        return f"Site owner ({business.owner_email})" if business.owner_email else "Site owner"
    role = "co-owner" if instance.is_owner else "collaborator"
    return f"Wix {role} {instance.wix_user_id.replace('-', '')[:6]}"


def _keep_name_current(user: User, *, instance: WixInstance, business: Business) -> None:
    if not _is_sso_account(user):
        return
    name = readable_name(instance=instance, business=business)[:200]
    if user.full_name != name:
        user_rename(user=user, full_name=name)


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
    user = _user_for(instance, business)
    if not user.is_active:
        raise InstanceRefused("user_inactive")
    _keep_name_current(user, instance=instance, business=business)
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
    membership_role_change(membership=membership, role=role)
    log.info(
        "wix_sso_role_changed",
        business_id=membership.business_id,
        user_id=membership.user_id,
        old_role=current,
        new_role=role,
    )
