"""The bulk rows of the query-plan dataset (tests/perf/world.py): the big business's
proposals and what hangs off them, its deliveries, the Wix side, and the log tables, the task
queue and the padding that make the planner choose as it would at production size."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from decimal import Decimal

from django_q.models import Task
from django_q.tasks import async_task

from accounts.models import ApiKey, Business, Membership, StaffAction, User
from integrations.models import (
    CircuitBreaker,
    IntegrationCall,
    WebhookReceipt,
    WixAccessToken,
    WixContactSync,
    WixInvoice,
    WixUserLink,
)
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
    ProposalPdf,
    ProposalVersion,
    ProposalView,
    Section,
    Suppression,
)

BIG_PROPOSALS = 1400  # 1,200 sent: every deep-page table gets past OFFSET 1,100
BIG_CLIENTS = 300
PADDING = 2000
# Rows per log table (receipts, calls, idempotency keys, staff actions): past a thousand, so
# the planner reads a changelist's page through an index, not by sorting the whole small table.
LOG_ROWS = 1200
REQUEST_ID = "req-7f3a9c2e1b4d4e6f"


def _statuses():
    order = ["draft", "sent", "viewed", "accepted", "declined", "expired", "withdrawn"]
    while True:
        yield from order


def bulk_proposals(*, big, owner, snapshot, now, today) -> tuple[list, list, dict]:
    """Clients, proposals in every status, their sections, items, versions, activity, views and
    acceptances; returns the clients, the proposals and each sent proposal's version."""
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
        valid_until = today - timedelta(days=5) if n % 3 == 0 else today + timedelta(30)
        proposals.append(
            Proposal(
                business=big,
                number=1000 + n,
                title=f"Proposal {n} for {clients[n % BIG_CLIENTS].name}",
                client=clients[n % BIG_CLIENTS],
                currency="USD",
                status=status,
                total=Decimal("1234.5000"),
                valid_until=valid_until,
                sent_valid_until=None if status == "draft" else valid_until,
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
    # PDFs asked for: most stored, some waiting for a worker (the sweeper's due rows).
    ProposalPdf.objects.bulk_create(
        ProposalPdf(
            business=big,
            proposal=p,
            version=by_proposal[p.pk],
            kind="accepted" if p.status == "accepted" else "sent",
            state="pending" if i % 5 == 0 else "ready",
            next_attempt_at=now - timedelta(minutes=1) if i % 5 == 0 else None,
            file_name="" if i % 5 == 0 else f"pdfs/{big.pk}/{p.pk:064d}.pdf",
            sha256="" if i % 5 == 0 else f"{p.pk:064d}",
        )
        for i, p in enumerate(proposals)
        if p.pk in by_proposal
    )
    return clients, proposals, by_proposal


def bulk_deliveries(*, big, proposals, by_proposal, now) -> None:
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


def bulk_wix(*, big, owner, clients, now) -> None:
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
    # Invoices of accepted proposals: two payments each, in every state and step.
    invoice_states = [s for s, _ in WixInvoice.State.choices]
    invoice_steps = [s for s, _ in WixInvoice.Step.choices]
    WixInvoice.objects.bulk_create(
        WixInvoice(
            business=big,
            proposal_id=acceptance.proposal_id,
            acceptance=acceptance,
            position=position,
            label="Deposit" if position == 1 else "Balance",
            amount=Decimal("100.00"),
            currency="USD",
            due_at=now + timedelta(days=30 * (position - 1) - 8),
            state=invoice_states[(i + position) % len(invoice_states)],
            step=invoice_steps[(i + position) % len(invoice_steps)],
            attempt_count=(i + position) % 3,
            claimed_until=now - timedelta(hours=2),
            next_attempt_at=now + timedelta(minutes=5 * ((i % 5) - 2)),
        )
        for i, acceptance in enumerate(Acceptance.objects.filter(business=big)[:60])
        for position in (1, 2)
    )
    CircuitBreaker.objects.create(api="contacts", state=CircuitBreaker.State.OPEN)
    WixAccessToken.objects.create(instance_id=big.instance_id, access_token="t")
    WixUserLink.objects.create(wix_user_id="wix-user-1", user=owner)


def bulk_logs(*, big, superuser, now) -> None:
    """Idempotency keys, staff actions, members, the task queue and the padding rows."""
    api_key = ApiKey.objects.filter(business=big).first()
    assert api_key is not None
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(
            business=big,
            scope=f"key:{api_key.pk}",
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
