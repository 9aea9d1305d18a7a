"""Setup and cleanup steps of ``manage.py bench_web``, run inside the server's environment.

Setup picks the biggest and a typical business of the seeded database and creates, through
the ORM and the accounts services, what the benchmark signs in with: an API key for each, a
session for an owner of each and for a staff superuser. Cleanup revokes all of it and deletes
the webhook receipts and queued tasks the benchmark made. Production code is not changed.
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core.management.base import CommandError
from django.db import DatabaseError, connection
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.middleware import SESSION_BUSINESS_KEY
from accounts.models import ApiKey, Business, Membership, User
from accounts.services import api_key_create
from console.bench.base import BENCH_KEY_NAME, BENCH_QUEUE, STAFF_EMAIL

SESSION_FLAG = "bench_web"


def _business_counts() -> tuple[tuple[int, int], tuple[int, int]]:
    """(id, proposals) of the biggest business and of one at the median proposal count."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH c AS (SELECT p.business_id, count(*) AS n FROM proposals_proposal p
                       JOIN accounts_business b ON b.id = p.business_id
                       WHERE b.status = 'active' GROUP BY p.business_id)
            SELECT (SELECT business_id FROM c ORDER BY n DESC, business_id LIMIT 1),
                   (SELECT max(n) FROM c),
                   (SELECT business_id FROM c
                     WHERE n = (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n) FROM c)
                     ORDER BY business_id LIMIT 1),
                   (SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY n) FROM c)
            """
        )
        big_id, big_n, typical_id, typical_n = cursor.fetchone()
    return (big_id, big_n), (typical_id, typical_n)


def _seed_meta() -> dict:
    """What ``manage.py seed_scale`` recorded (biggest/typical business, their logins), if any."""
    try:
        from console import seeding
    except ImportError:
        return {}
    try:
        with connection.cursor() as cursor:
            return seeding.read_meta(cursor)
    except DatabaseError:
        return {}


def _owner(business: Business, email: str | None = None) -> User:
    if email:
        user = User.objects.filter(email=email, is_active=True).first()
        if user is not None and Membership.objects.filter(user=user, business=business).exists():
            return user
    memberships = Membership.objects.filter(business=business, user__is_active=True)
    membership = (
        memberships.filter(role=Membership.Role.OWNER).select_related("user").order_by("pk").first()
        or memberships.select_related("user").order_by("pk").first()
    )
    if membership is not None:
        return membership.user
    user, _ = User.objects.get_or_create(email=f"bench-owner-{business.pk}@bench.invalid")
    Membership.objects.get_or_create(
        user=user, business=business, defaults={"role": Membership.Role.OWNER}
    )
    return user


def _session(user: User, business: Business | None) -> str:
    """A signed-in session exactly as django.contrib.auth.login writes one."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store[SESSION_FLAG] = True
    if business is not None:
        store[SESSION_BUSINESS_KEY] = business.pk
    store.set_expiry(timedelta(hours=6))
    store.create()
    assert store.session_key is not None  # create() saved it under a new key
    return store.session_key


def _open_proposal(business: Business):
    from proposals.models import Proposal

    today = timezone.localdate()
    proposal = (
        Proposal.objects.filter(
            business=business,
            status__in=Proposal.OPEN_STATUSES,
            current_version__isnull=False,
            current_version__token_revoked_at__isnull=True,
        )
        .filter(Q(sent_valid_until__isnull=True) | Q(sent_valid_until__gte=today))
        .select_related("current_version", "client")
        .order_by("-created_at")
        .first()
    )
    if proposal is None:
        raise CommandError(
            f"Business #{business.pk} has no sent proposal with a live link to measure"
        )
    return proposal


def _search_word(proposal) -> str:
    name = (proposal.client.name or proposal.client.email).split()
    return (name[-1] if name else proposal.client.email)[:40]


def _request_id() -> str:
    from proposals.models import Activity, DeliveryAttempt

    for model in (Activity, DeliveryAttempt):
        # Through the request_id index (a scan by pk could walk millions of rows without one).
        value = (
            model.objects.filter(request_id__gt="")
            .order_by("request_id")
            .values_list("request_id", flat=True)[:1]
        )
        if value:
            return value[0]
    return "00000000-0000-4000-8000-000000000000"


def _changelists() -> list[tuple[str, str]]:
    result = []
    for model in sorted(
        admin.site._registry, key=lambda m: (m._meta.app_label, m._meta.model_name)
    ):
        meta = model._meta
        try:
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
        except NoReverseMatch:
            continue
        result.append((f"{meta.app_label}_{meta.model_name}", url))
    return result


def setup() -> dict:
    from proposals.models import Client, Proposal

    if connection.vendor != "postgresql":
        raise CommandError("The HTTP benchmark runs on PostgreSQL (as production does)")
    try:
        seeded = Proposal.objects.exists()
    except DatabaseError as exc:
        raise CommandError(
            f"The database is not migrated ({exc.__class__.__name__}): run `manage.py migrate` "
            "and `manage.py seed_scale` on it first"
        ) from None
    if not seeded:
        raise CommandError("The database has no proposals: seed it with `manage.py seed_scale`")
    meta = _seed_meta()
    if meta.get("biggest_business_id") and meta.get("typical_business_id"):
        big_id, typical_id = int(meta["biggest_business_id"]), int(meta["typical_business_id"])
        big_n = Proposal.objects.filter(business_id=big_id).count()
        typical_n = Proposal.objects.filter(business_id=typical_id).count()
    else:
        (big_id, big_n), (typical_id, typical_n) = _business_counts()
    state: dict = {
        "support_queries": {},
        "totals": {
            "proposals": Proposal.objects.count(),
            "businesses": Business.objects.count(),
        },
    }
    for label, business_id, count in (
        ("biggest", big_id, big_n),
        ("typical", typical_id, typical_n),
    ):
        business = Business.objects.get(pk=business_id)
        owner = _owner(business, meta.get(f"{label}_owner_email"))
        _, raw_key = api_key_create(business=business, name=BENCH_KEY_NAME, acting_user=None)
        proposal = _open_proposal(business) if label == "biggest" else None
        entry = {
            "id": business.pk,
            "instance_id": business.instance_id,
            "active": business.is_active,
            "proposals": count,
            "clients": Client.objects.filter(business=business).count(),
            "owner_email": owner.email,
            "api_key": raw_key,
            "session": _session(owner, business),
        }
        if proposal is not None:
            entry.update(
                proposal_id=proposal.pk,
                token=proposal.current_version.token,
                search=_search_word(proposal),
            )
            state["support_queries"] = {
                "email": proposal.client.email,
                "number": proposal.display_number,
                "request_id": _request_id(),
            }
        state[label] = entry
    staff, _ = User.objects.get_or_create(
        email=meta.get("bench_admin_email") or STAFF_EMAIL,
        defaults={"is_staff": True, "is_superuser": True},
    )
    if not (staff.is_staff and staff.is_superuser and staff.is_active):
        User.objects.filter(pk=staff.pk).update(is_staff=True, is_superuser=True, is_active=True)
        staff.refresh_from_db()
    state["staff_session"] = _session(staff, None)
    state["webhook_instance_id"] = state["typical"]["instance_id"]
    state["changelists"] = _changelists()
    return state


def cleanup(state: dict) -> None:
    from django_q.models import OrmQ

    from integrations.models import WebhookReceipt

    ApiKey.objects.filter(name=BENCH_KEY_NAME, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    ApiKey.objects.filter(name=BENCH_KEY_NAME).delete()
    keys = [state.get("staff_session")] + [
        state.get(label, {}).get("session") for label in ("biggest", "typical")
    ]
    Session.objects.filter(session_key__in=[k for k in keys if k]).delete()
    dedup = [
        hashlib.sha256(f"id:{event_id}".encode()).hexdigest()
        for event_id in state.get("webhook_event_ids", [])
    ]
    for start in range(0, len(dedup), 1000):
        WebhookReceipt.objects.filter(dedup_key__in=dedup[start : start + 1000]).delete()
    OrmQ.objects.filter(key=BENCH_QUEUE).delete()
