# SQL below is built from the seed module's constant table names only.
# ruff: noqa: S608
"""``manage.py seed_scale``: a small seed is consistent, renders, never duplicates, resumes."""

from io import StringIO

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection, models
from django.urls import reverse

from console import seeding
from proposals import rules, selectors
from proposals.models import Proposal, ProposalVersion

BUSINESSES = 40

pytestmark = pytest.mark.django_db(transaction=True)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="seed_scale generates data with PostgreSQL functions; run with DATABASE_URL=postgres://…",
)


def seed(**options) -> str:
    out = StringIO()
    call_command("seed_scale", businesses=BUSINESSES, workers=2, stdout=out, **options)
    return out.getvalue()


def counts() -> dict[str, int]:
    with connection.cursor() as cursor:
        result = {}
        for table in seeding.SEEDED_TABLES:
            cursor.execute(f"SELECT count(*) FROM {table}")
            result[table] = cursor.fetchone()[0]
    return result


def zero(sql: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def secondary_indexes() -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE tablename = ANY(%s)",
            [list(seeding.INDEXED_TABLES)],
        )
        return set(cursor.fetchall())


@pytest.fixture
def indexes_before():
    return secondary_indexes()


@pytest.fixture
def seeded(indexes_before):
    output = seed(reset=True)
    yield output
    with connection.cursor() as cursor:
        seeding.reset(cursor)


@pytest.mark.django_db
def test_refuses_sqlite():
    if connection.vendor == "postgresql":
        pytest.skip("checks the SQLite refusal")
    with pytest.raises(CommandError, match="needs PostgreSQL"):
        call_command("seed_scale", businesses=2)


# Each query counts rows that break tenant consistency or a link; all must be 0.
CONSISTENCY = {
    "client of another business": """
        SELECT count(*) FROM proposals_proposal p JOIN proposals_client c ON c.id = p.client_id
        WHERE c.business_id <> p.business_id""",
    "version of another business or proposal": """
        SELECT count(*) FROM proposals_proposalversion v
        JOIN proposals_proposal p ON p.id = v.proposal_id WHERE v.business_id <> p.business_id""",
    "current version not the proposal's last": """
        SELECT count(*) FROM proposals_proposal p
        LEFT JOIN proposals_proposalversion v ON v.id = p.current_version_id
        WHERE (p.status = 'draft') <> (p.current_version_id IS NULL)
           OR (p.current_version_id IS NOT NULL AND (v.proposal_id IS DISTINCT FROM p.id
               OR v.number <> (SELECT max(number) FROM proposals_proposalversion w
                               WHERE w.proposal_id = p.id)))""",
    "activity of another business or version": """
        SELECT count(*) FROM proposals_activity a JOIN proposals_proposal p ON p.id = a.proposal_id
        LEFT JOIN proposals_proposalversion v ON v.id = a.version_id
        WHERE a.business_id <> p.business_id OR (a.version_id IS NOT NULL
              AND v.proposal_id IS DISTINCT FROM a.proposal_id)""",
    "delivery of another business or version": """
        SELECT count(*) FROM proposals_delivery d JOIN proposals_proposal p ON p.id = d.proposal_id
        LEFT JOIN proposals_proposalversion v ON v.id = d.version_id
        WHERE d.business_id <> p.business_id OR v.proposal_id IS DISTINCT FROM d.proposal_id""",
    "attempts not matching the delivery's count": """
        SELECT count(*) FROM proposals_deliveryattempt t
        JOIN proposals_delivery d ON d.id = t.delivery_id WHERE t.number > d.attempt_count""",
    "view of another business or version": """
        SELECT count(*) FROM proposals_proposalview w
        JOIN proposals_proposal p ON p.id = w.proposal_id
        JOIN proposals_proposalversion v ON v.id = w.version_id
        WHERE w.business_id <> p.business_id OR v.proposal_id <> w.proposal_id""",
    "acceptance not of an accepted proposal's current version": """
        SELECT count(*) FROM proposals_acceptance x
        JOIN proposals_proposal p ON p.id = x.proposal_id
        WHERE p.status <> 'accepted' OR x.version_id <> p.current_version_id
           OR x.business_id <> p.business_id""",
    "accepted proposal without acceptance": """
        SELECT count(*) FROM proposals_proposal p
        WHERE p.status = 'accepted' AND NOT EXISTS (
            SELECT 1 FROM proposals_acceptance x WHERE x.proposal_id = p.id)""",
    "contact sync of another business": """
        SELECT count(*) FROM integrations_wixcontactsync s
        JOIN proposals_client c ON c.id = s.client_id WHERE s.business_id <> c.business_id""",
    "invoice of another business, or not summing to its acceptance": """
        SELECT count(*) FROM (
            SELECT i.acceptance_id, sum(i.amount) AS billed, min(x.total) AS total,
                   bool_or(i.business_id <> x.business_id OR i.proposal_id <> x.proposal_id) AS bad
            FROM integrations_wixinvoice i JOIN proposals_acceptance x ON x.id = i.acceptance_id
            GROUP BY i.acceptance_id) s
        WHERE s.bad OR s.billed <> s.total""",
    "sequence not the business's last number": """
        SELECT count(*) FROM (SELECT business_id, max(number) AS last, count(*) AS n
                              FROM proposals_proposal GROUP BY business_id) p
        LEFT JOIN proposals_proposalsequence s ON s.business_id = p.business_id
        WHERE s.last_number IS DISTINCT FROM p.last OR p.n <> p.last""",
    "token not 64 URL-safe characters": """
        SELECT count(*) FROM proposals_proposalversion WHERE token !~ '^[A-Za-z0-9_-]{64}$'""",
    "timestamps out of order": """
        SELECT count(*) FROM proposals_proposal
        WHERE sent_at < created_at OR viewed_at < sent_at OR answered_at < viewed_at
           OR (status IN ('accepted', 'declined')) <> (answered_at IS NOT NULL)
           OR (status = 'expired') <> (expired_at IS NOT NULL)
           OR (status = 'withdrawn') <> (withdrawn_at IS NOT NULL)
           OR greatest(created_at, sent_at, viewed_at, answered_at, expired_at) > now()""",
}


def dangling_foreign_keys() -> dict[str, int]:
    """Every foreign key of every seeded table points at an existing row (no FK triggers ran)."""
    found = {}
    for model in apps.get_models():
        if model._meta.db_table not in seeding.SEEDED_TABLES:
            continue
        for fk in model._meta.concrete_fields:
            if not isinstance(fk, models.ForeignKey):
                continue
            target = fk.related_model._meta
            sql = (
                f"SELECT count(*) FROM {model._meta.db_table} t WHERE t.{fk.column} IS NOT NULL "
                f"AND NOT EXISTS (SELECT 1 FROM {target.db_table} r "
                f"WHERE r.{target.pk.column} = t.{fk.column})"
            )
            if n := zero(sql):
                found[f"{model._meta.db_table}.{fk.column}"] = n
    return found


@postgres_only
def test_small_seed_is_consistent_renders_and_runs_once(seeded, indexes_before, client):
    assert "biggest business: id" in seeded
    assert {name: n for name, sql in CONSISTENCY.items() if (n := zero(sql))} == {}
    assert dangling_foreign_keys() == {}
    sizes = counts()
    assert all(sizes[table] > 0 for table in seeding.SEEDED_TABLES), sizes
    with connection.cursor() as cursor:
        meta = seeding.read_meta(cursor)
        cursor.execute(f"SELECT count(*) FROM {seeding.SCHEMA}.saved_index")
        assert cursor.fetchone()[0] == 0  # every dropped index was rebuilt
    assert secondary_indexes() == indexes_before
    business_id = int(meta["biggest_business_id"])

    # One big business of a few hundred proposals, the biggest; the rest a long tail.
    per_business = dict(
        Proposal.objects.values("business_id")
        .annotate(n=models.Count("id"))
        .values_list("business_id", "n")
    )
    assert per_business[business_id] == 200 == max(per_business.values())
    assert sorted(per_business.values())[len(per_business) // 2] < 20
    assert set(Proposal.objects.values_list("status", flat=True)) == set(Proposal.Status.values)

    # A current version's snapshot is what sending froze: proposal_snapshot of the unchanged
    # working copy, with the totals rules.snapshot_totals computes from its items.
    versions = (
        ProposalVersion.objects.select_related("proposal__business", "proposal__client")
        .filter(proposal__current_version_id=models.F("pk"), proposal__has_unsent_changes=False)
        .order_by("pk")[:25]
    )
    assert len(versions) == 25
    for version in versions:
        assert version.snapshot == selectors.proposal_snapshot(proposal=version.proposal)
        totals = rules.snapshot_totals(version.snapshot)
        assert version.snapshot["totals"] == totals.as_dict()
        assert version.proposal.total == totals.total

    # The client page of seeded tokens, the dashboard and the admin for the printed logins.
    open_version = ProposalVersion.objects.filter(
        business_id=business_id,
        proposal__status=Proposal.Status.SENT,
        proposal__current_version_id=models.F("pk"),
    ).first()
    answered = ProposalVersion.objects.filter(
        business_id=business_id, proposal__status=Proposal.Status.ACCEPTED
    ).first()
    for version in (open_version, answered):
        response = client.get(reverse("public:proposal", args=[version.token]))
        assert response.status_code == 200
        assert version.snapshot["title"] in response.content.decode()
    assert client.login(email=meta["biggest_owner_email"], password=meta["password"])
    proposal = Proposal.objects.filter(business_id=business_id).order_by("-pk").first()
    response = client.get(reverse("dashboard:proposal_detail", args=[proposal.pk]))
    assert response.status_code == 200
    assert proposal.display_number in response.content.decode()
    client.logout()
    assert client.login(email=meta["bench_admin_email"], password=meta["password"])
    assert client.get(reverse("admin:index")).status_code == 200

    # Running it again adds nothing (the page views above wrote a few rows: count after them).
    before = counts()
    assert "(before)" in seed()
    assert counts() == before


@postgres_only
def test_other_data_is_refused_without_reset():
    from tests.accounts.factories import BusinessFactory

    BusinessFactory()
    with pytest.raises(CommandError, match="--reset"):
        seed()


@postgres_only
def test_interrupted_run_resumes_without_duplicates(seeded, monkeypatch):
    complete = counts()
    # As an interrupted run leaves it: the phase's transaction rolled back, no record of it.
    with connection.cursor() as cursor:
        for phase, table in (("views", "proposals_proposalview"),
                             ("attempts", "proposals_deliveryattempt")):  # fmt: skip
            cursor.execute(
                f"DELETE FROM {seeding.SCHEMA}.progress WHERE phase LIKE %s", [f"{phase}.%"]
            )
            cursor.execute(f"DELETE FROM {table}")

    # Interrupted again, inside a part of the attempts phase after its INSERT ran: that part
    # leaves no row and no record (the parts running beside it finish and are recorded).
    real_execute = seeding._execute

    def interrupted(cursor, phase, params):
        rows = real_execute(cursor, phase, params)
        if phase.name == "attempts.2":
            raise KeyboardInterrupt
        return rows

    monkeypatch.setattr(seeding, "_execute", interrupted)
    with pytest.raises(KeyboardInterrupt):
        seed()
    monkeypatch.undo()
    with connection.cursor() as cursor:
        assert "attempts.2" not in seeding.finished_phases(cursor)
    assert (
        zero("SELECT count(*) FROM proposals_deliveryattempt")
        < complete["proposals_deliveryattempt"]
    )

    output = seed()
    assert "attempts.2" in output and "(before)" in output
    assert counts() == complete
    assert {name: n for name, sql in CONSISTENCY.items() if (n := zero(sql))} == {}
