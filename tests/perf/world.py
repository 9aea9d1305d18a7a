"""A modest, realistic dataset for the query-plan tests (``build_world``), built once per module
by the ``world`` fixture (tests/perf/conftest.py).

Three businesses: a big one (1,400 proposals in every status, 300 clients, versions with tokens,
line items, activity, deliveries in every state with attempts, views, acceptances, webhook
receipts, Wix calls, contact syncs, idempotency keys, staff actions), a small one, and one
uninstalled long enough ago to be purged. Rows are dated so every scheduled job finds due work.
The bulk rows are written by tests/perf/world_rows.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection
from django.utils import timezone

from accounts.models import Business, User
from accounts.services import api_key_create
from proposals import services
from proposals.models import (
    Client,
    Proposal,
    ProposalSettings,
    ProposalTemplate,
    ProposalVersion,
)
from tests.accounts.factories import BusinessFactory, MembershipFactory, UserFactory
from tests.perf import plans
from tests.perf.world_rows import (
    REQUEST_ID,
    bulk_deliveries,
    bulk_logs,
    bulk_proposals,
    bulk_wix,
)
from tests.proposals.factories import ClientFactory, item, make_proposal, sections

__all__ = ["REQUEST_ID", "World", "build_world"]


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


def build_world() -> World:
    now = timezone.now()
    today = now.date()
    big = BusinessFactory.create(site_name="Big Studio", plan=Business.Plan.PAID)
    small = BusinessFactory.create(site_name="Small Studio")
    gone = BusinessFactory.create(site_name="Gone Studio")  # uninstalled below, once it has data
    owner = MembershipFactory.create(
        business=big, user=UserFactory.create(email="owner@big.example")
    ).user
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
    real_client = ClientFactory.create(business=big, name="Ada Client", email="ada@client.example")
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

    clients, proposals, by_proposal = bulk_proposals(
        big=big, owner=owner, snapshot=snapshot, now=now, today=today
    )
    bulk_deliveries(big=big, proposals=proposals, by_proposal=by_proposal, now=now)
    bulk_wix(big=big, owner=owner, clients=clients, now=now)
    bulk_logs(big=big, superuser=superuser, now=now)

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
