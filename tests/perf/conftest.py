"""A modest, realistic dataset for the query-plan tests, built once per module (bulk inserts).

Three businesses: a big one (1,400 proposals in every status, 300 clients, versions with tokens,
line items, activity, deliveries in every state with attempts, views, acceptances, webhook
receipts, Wix calls, contact syncs, idempotency keys, staff actions), a small one, and one
uninstalled long enough ago to be purged. Rows are dated so every scheduled job finds due work.
The whole dataset lives in one transaction that is rolled back after the module.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import Task
from django_q.tasks import async_task

from accounts.models import ApiKey, Business, Membership, StaffAction, User
from accounts.services import api_key_create
from integrations.models import (
    CircuitBreaker,
    IntegrationCall,
    WebhookReceipt,
    WixAccessToken,
    WixContactSync,
    WixUserLink,
)
from proposals import services
from proposals.models import (
    Acceptance,
    Activity,
    Client,
    Delivery,
    DeliveryAttempt,
    DeliveryEvent,
    IdempotencyKey,
    LineItem,
    Proposal,
    ProposalSettings,
    ProposalTemplate,
    ProposalVersion,
    ProposalView,
    Section,
    Suppression,
)
from tests.accounts.factories import BusinessFactory, MembershipFactory, UserFactory
from tests.perf import plans
from tests.proposals.factories import ClientFactory, item, make_proposal, sections

BIG_PROPOSALS = 1400  # 1,200 sent: every deep-page table gets past OFFSET 1,100
BIG_CLIENTS = 300
PADDING = 2000
# Rows per log table (receipts, calls, idempotency keys, staff actions): past a thousand, so
# the planner reads a changelist's page through an index, not by sorting the whole small table.
LOG_ROWS = 1200
REQUEST_ID = "req-7f3a9c2e1b4d4e6f"


@dataclass
class World:
    big: Business
    small: Business
    gone: Business
    owner: User
    superuser: User
    api_raw_key: str
    sent: Proposal  # built through the services: a real snapshot, sections and totals
    sent_version: ProposalVersion
    accepted: Proposal
    client: Client
    client_email: str
    proposal_number: str  # "P-0042"


def _statuses():
    order = ["draft", "sent", "viewed", "accepted", "declined", "expired", "withdrawn"]
    while True:
        yield from order


def build_world() -> World:
    now = timezone.now()
    today = now.date()
    big = BusinessFactory(site_name="Big Studio", plan=Business.Plan.PAID)
    small = BusinessFactory(site_name="Small Studio")
    gone = BusinessFactory(site_name="Gone Studio")  # uninstalled below, once it has data
    owner = MembershipFactory(business=big, user=UserFactory(email="owner@big.example")).user
    MembershipFactory(business=small)
    MembershipFactory(business=gone)
    superuser = User.objects.create_superuser("root@example.com", "correct horse battery")
    _, raw_key = api_key_create(business=big, name="plans", acting_user=None)
    api_key_create(business=small, name="plans", acting_user=None)
    ProposalSettings.objects.create(business=big, remind_unopened_after_days=2)
    ProposalTemplate.objects.create(
        business=big, name="Standard", title="Website", sections=sections(item())
    )

    # A few proposals through the services, as the dashboard makes them.
    real_client = ClientFactory(business=big, name="Ada Client", email="ada@client.example")
    sent = make_proposal(client=real_client, acting_user=owner, title="Real sent")
    sent_version = services.proposal_send(proposal=sent, acting_user=owner)
    sent.refresh_from_db()
    accepted = make_proposal(client=real_client, acting_user=owner, title="Real accepted")
    accepted_version = services.proposal_send(proposal=accepted, acting_user=owner)
    services.proposal_mark_viewed(version=accepted_version, ip="203.0.113.9", user_agent="UA")
    services.proposal_accept(
        version=accepted_version,
        signed_name="Ada Client",
        agreed=True,
        selected_item_keys=[],
        ip="203.0.113.9",
        user_agent="UA",
    )
    accepted.refresh_from_db()
    snapshot = sent_version.snapshot
    for business in (small, gone):
        c = ClientFactory(business=business)
        p = make_proposal(client=c)
        services.proposal_send(proposal=p, acting_user=None)
    Business.objects.filter(pk=gone.pk).update(
        status=Business.Status.UNINSTALLED, uninstalled_at=now - timedelta(days=200)
    )
    gone.refresh_from_db()

    clients = Client.objects.bulk_create(
        Client(
            business=big,
            name=f"Client {n:04d}",
            email=f"client{n:04d}@big.example",
            company=f"Company {n % 40}",
        )
        for n in range(BIG_CLIENTS)
    )
    statuses = _statuses()
    proposals = []
    for n in range(BIG_PROPOSALS):
        status = next(statuses)
        proposals.append(
            Proposal(
                business=big,
                number=1000 + n,
                title=f"Proposal {n} for {clients[n % BIG_CLIENTS].name}",
                client=clients[n % BIG_CLIENTS],
                currency="USD",
                status=status,
                total=Decimal("1234.5000"),
                valid_until=today - timedelta(days=5) if n % 3 == 0 else today + timedelta(30),
                sent_at=None if status == "draft" else now - timedelta(days=10),
                viewed_at=now - timedelta(days=9) if status in ("viewed", "accepted") else None,
                answered_at=now - timedelta(days=8) if status in ("accepted", "declined") else None,
            )
        )
    # "P-0042" is a real number in the big business.
    proposals[0].number = 42
    Proposal.objects.bulk_create(proposals)
    secs = Section.objects.bulk_create(
        Section(proposal=p, title="Work", position=0) for p in proposals[:200]
    )
    LineItem.objects.bulk_create(
        LineItem(section=s, name=f"Item {i}", unit_price=Decimal("100"), position=i)
        for s in secs
        for i in range(3)
    )
    versions = ProposalVersion.objects.bulk_create(
        ProposalVersion(
            proposal=p,
            business=big,
            number=1,
            snapshot=snapshot,
            content_hash="0" * 64,
            token=secrets.token_urlsafe(32),
            recipient_email=p.client.email,
            sent_at=now - timedelta(days=10),
        )
        for p in proposals
        if p.status != "draft"
    )
    by_proposal = {v.proposal_id: v for v in versions}
    for p in proposals:
        if p.pk in by_proposal:
            p.current_version = by_proposal[p.pk]
    Proposal.objects.bulk_update(proposals, ["current_version"], batch_size=500)
    # Rows written in bulk skip the send: schedule their reminders as a settings change does.
    from proposals.reminders import reminders_reschedule

    reminders_reschedule(business_id=big.pk)

    activities = []
    for p in proposals:
        activities.append(
            Activity(business=big, proposal=p, kind="created", actor_type="user", actor_user=owner)
        )
        if p.pk in by_proposal:
            activities.append(
                Activity(
                    business=big,
                    proposal=p,
                    version=by_proposal[p.pk],
                    kind="sent",
                    actor_type="user",
                    request_id=REQUEST_ID if p.number == 42 else "",
                )
            )
    Activity.objects.bulk_create(activities, batch_size=1000)
    ProposalView.objects.bulk_create(
        ProposalView(version=by_proposal[p.pk], proposal=p, business=big, ip="198.51.100.7")
        for p in proposals
        if p.status in ("viewed", "accepted")
    )
    Acceptance.objects.bulk_create(
        Acceptance(
            proposal=p,
            version=by_proposal[p.pk],
            business=big,
            signed_name="Signer",
            email=p.client.email,
            accepted_at=now - timedelta(days=8),
            total=p.total,
            content_hash="0" * 64,
        )
        for p in proposals
        if p.status == "accepted"
    )

    # Deliveries in every state, with attempts; dated so the sweeper has work.
    states = [s for s, _ in Delivery.State.choices]
    deliveries = Delivery.objects.bulk_create(
        Delivery(
            business=big,
            kind=Delivery.Kind.PROPOSAL,
            recipient=p.client.email,
            proposal=p,
            version=by_proposal[p.pk],
            idempotency_key=f"plans:{p.pk}",
            state=states[i % len(states)],
            attempt_count=1,
            next_attempt_at=now - timedelta(minutes=30),
            claimed_until=now - timedelta(minutes=10),
            request_id=REQUEST_ID if i == 0 else f"req-{i}",
        )
        for i, p in enumerate(p for p in proposals if p.pk in by_proposal)
    )
    outcomes = [o for o, _ in DeliveryAttempt.Outcome.choices]
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery=d,
            number=1,
            started_at=now - timedelta(days=200 if i % 2 else 1),
            finished_at=now - timedelta(days=200 if i % 2 else 1),
            outcome=(
                DeliveryAttempt.Outcome.IN_PROGRESS
                if d.state == Delivery.State.SENDING
                else outcomes[i % len(outcomes)]
            ),
            smtp_code=250,
            request_id=REQUEST_ID if i == 0 else "",
        )
        for i, d in enumerate(deliveries)
    )
    Delivery.objects.filter(state=Delivery.State.PENDING).update(enqueued_at=None)
    # What the email service's webhooks leave: events of a bounced email, its suppression.
    bounced = deliveries[0]
    DeliveryEvent.objects.create(
        business=big, delivery=bounced, esp="Mailgun", event_id="plans-1", event_type="bounced"
    )
    Suppression.objects.create(
        business=big, address=bounced.recipient.lower(), reason="bounced", delivery=bounced
    )

    # Wix side: receipts in every status, calls (some past retention), contact syncs.
    receipt_statuses = [s for s, _ in WebhookReceipt.Status.choices]
    WebhookReceipt.objects.bulk_create(
        WebhookReceipt(
            status=receipt_statuses[i % len(receipt_statuses)],
            verified=True,
            event_type="AppInstalled",
            instance_id=big.instance_id,
            business=big if i % 5 else None,
            claims={"data": {"instanceId": big.instance_id}},
            received_at=now - timedelta(days=200 if i % 2 else 0, minutes=10),
            last_received_at=now - timedelta(days=200 if i % 2 else 0, minutes=10),
            claimed_until=now - timedelta(hours=2),
            next_attempt_at=now - timedelta(minutes=10),
            request_id=REQUEST_ID if i == 0 else f"req-w{i}",
            dedup_key=f"dedup-{i}",
        )
        for i in range(LOG_ROWS)
    )
    IntegrationCall.objects.bulk_create(
        IntegrationCall(
            business=big if i % 4 else None,
            api=["oauth", "apps", "contacts"][i % 3],
            endpoint="/contacts/v4/contacts",
            method="POST",
            status=200 if i % 3 else 503,
            ok=bool(i % 3),
            duration_ms=80,
            request_id=REQUEST_ID if i == 0 else f"req-c{i}",
            created_at=now - timedelta(days=200 if i % 2 else 0),
        )
        for i in range(2 * LOG_ROWS)
    )
    sync_statuses = [s for s, _ in WixContactSync.Status.choices]
    WixContactSync.objects.bulk_create(
        WixContactSync(
            business=big,
            client=c,
            status=sync_statuses[i % len(sync_statuses)],
            attempt_count=i % 2,
            claimed_until=now - timedelta(hours=2),
            next_attempt_at=now - timedelta(minutes=5),
        )
        for i, c in enumerate(clients[:120])
    )
    WixContactSync.objects.update(created_at=now - timedelta(hours=1))
    CircuitBreaker.objects.create(api="contacts", state=CircuitBreaker.State.OPEN)
    WixAccessToken.objects.create(instance_id=big.instance_id, access_token="t")
    WixUserLink.objects.create(wix_user_id="wix-user-1", user=owner)

    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(
            business=big,
            scope=f"key:{ApiKey.objects.filter(business=big).first().pk}",
            key=f"idem-{i}",
            request_hash="0" * 64,
            method="POST",
            path="/api/v1/proposals/",
            state=IdempotencyKey.State.DONE,
            response_status=201,
            request_id=REQUEST_ID if i == 0 else "",
            locked_at=now,
        )
        for i in range(LOG_ROWS)
    )
    IdempotencyKey.objects.filter(key__in=[f"idem-{i}" for i in range(20)]).update(
        created_at=now - timedelta(days=3)
    )
    StaffAction.objects.bulk_create(
        StaffAction(
            actor=superuser,
            actor_email=superuser.email,
            action="delivery_retry",
            target_repr="a delivery",
            business=big,
            outcome=StaffAction.Outcome.OK,
            request_id=REQUEST_ID if i == 0 else f"req-s{i}",
        )
        for i in range(LOG_ROWS)
    )
    Membership.objects.bulk_create(
        Membership(business=big, user=u, role=Membership.Role.MEMBER)
        for u in User.objects.bulk_create(
            User(email=f"member{i}@big.example", password="!") for i in range(20)
        )
    )

    # The task queue: queued tasks (as the ORM broker stores them) and results of both kinds.
    for n in range(5):
        async_task("common.tasks.queue_heartbeat", f"plans {n}")
    Task.objects.bulk_create(
        Task(
            id=uuid.uuid4().hex,
            name=f"plans-task-{n}",
            func="proposals.delivery.tasks.execute_delivery",
            args=(n,),
            started=now - timedelta(minutes=n),
            stopped=now - timedelta(minutes=n),
            success=bool(n % 2),
            result="sent" if n % 2 else "Traceback: SMTP 421",
            group="deliveries",
        )
        for n in range(20)
    )

    # Enough businesses and users that the planner looks a row up by index instead of reading
    # a three-row table whole (it would at production size: 130K businesses).
    Business.objects.bulk_create(
        Business(instance_id=f"pad-{n:06d}", site_name=f"Pad {n}") for n in range(PADDING)
    )
    User.objects.bulk_create(
        User(email=f"pad{n}@pad.example", password="!") for n in range(PADDING)
    )

    # Check the deferred foreign keys of all these rows now, once: else every test's teardown
    # (TestCase checks constraints) would check them all again inside this transaction.
    connection.check_constraints()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL statement_timeout = 0")
        for table in sorted(plans.guarded_tables()):
            cursor.execute(f'ANALYZE "{table}"')
    return World(
        big=big,
        small=small,
        gone=gone,
        owner=owner,
        superuser=superuser,
        api_raw_key=raw_key,
        sent=sent,
        sent_version=sent_version,
        accepted=accepted,
        client=real_client,
        client_email=real_client.email,
        proposal_number="P-0042",
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """The dataset, in a transaction every test nests into and that is rolled back at the end."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
