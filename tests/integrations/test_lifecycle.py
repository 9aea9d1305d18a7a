"""Retention after uninstall, and the schedules the integration relies on."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule

from accounts.models import Business
from integrations.lifecycle import business_install as install
from integrations.lifecycle import business_purge_uninstalled
from integrations.lifecycle import business_uninstall as uninstall
from integrations.models import WixAccessToken
from integrations.schedules import ensure_schedules
from proposals.models import Client, Proposal
from tests.accounts.factories import BusinessFactory
from tests.proposals.factories import ClientFactory, make_sent_proposal


@pytest.mark.django_db
def test_data_of_an_uninstalled_business_is_kept_for_the_retention_period(settings):
    settings.WIX_UNINSTALLED_RETENTION_DAYS = 90
    now = timezone.now()
    expired = BusinessFactory()
    make_sent_proposal(client=ClientFactory(business=expired))
    WixAccessToken.objects.create(instance_id=expired.instance_id, access_token="x")
    recent = BusinessFactory()
    make_sent_proposal(client=ClientFactory(business=recent))
    active = BusinessFactory()
    Business.objects.filter(pk=expired.pk).update(
        status=Business.Status.UNINSTALLED, uninstalled_at=now - timedelta(days=91)
    )
    Business.objects.filter(pk=recent.pk).update(
        status=Business.Status.UNINSTALLED, uninstalled_at=now - timedelta(days=89)
    )

    assert business_purge_uninstalled() == 1
    assert set(Business.objects.values_list("pk", flat=True)) == {recent.pk, active.pk}
    assert not Client.objects.filter(business_id=expired.pk).exists()
    assert not Proposal.objects.filter(business_id=expired.pk).exists()
    assert Proposal.objects.filter(business_id=recent.pk).exists()
    assert not WixAccessToken.objects.exists()


@pytest.mark.django_db
def test_the_schedules_exist_after_migrate_and_are_idempotent():
    assert Schedule.objects.filter(func="integrations.tasks.purge_uninstalled").exists()
    # Contact syncs and webhook receipts are swept by the outbox's one sweeper.
    assert Schedule.objects.filter(func="common.outbox.tasks.sweep", minutes=1).exists()
    assert not Schedule.objects.filter(name="integrations: wix sweep").exists()
    assert ensure_schedules() == 0


@pytest.mark.django_db
def test_the_retired_wix_sweep_schedule_is_deleted():
    Schedule.objects.create(
        name="integrations: wix sweep", func="integrations.tasks.sweep", minutes=1, repeats=-1
    )
    assert ensure_schedules() == 1
    assert not Schedule.objects.filter(name="integrations: wix sweep").exists()
    assert ensure_schedules() == 0


@pytest.mark.django_db
def test_an_accepted_proposal_does_not_block_the_purge(settings):
    from proposals import services

    business = BusinessFactory()
    proposal, version = make_sent_proposal(client=ClientFactory(business=business))
    services.proposal_accept(
        version=version,
        signed_name="Client Name",
        agreed=True,
        selected_item_keys=[],
        ip="127.0.0.1",
        user_agent="test",
    )
    Business.objects.filter(pk=business.pk).update(
        status=Business.Status.UNINSTALLED,
        uninstalled_at=timezone.now() - timedelta(days=settings.WIX_UNINSTALLED_RETENTION_DAYS + 1),
    )
    assert business_purge_uninstalled() == 1
    assert not Business.objects.exists()


def _expire(*businesses, settings, days_ago: int | None = None) -> None:
    days = days_ago or settings.WIX_UNINSTALLED_RETENTION_DAYS + 1
    for offset, business in enumerate(businesses):
        # Older first, a second apart: the purge takes the oldest removals first.
        Business.objects.filter(pk=business.pk).update(
            status=Business.Status.UNINSTALLED,
            uninstalled_at=timezone.now() - timedelta(days=days, seconds=len(businesses) - offset),
        )


def _expired_with_proposals(count: int, *, settings, proposals: int = 1) -> list[Business]:
    businesses = BusinessFactory.create_batch(count)
    for business in businesses:
        client = ClientFactory(business=business)
        for _ in range(proposals):
            make_sent_proposal(client=client)
        WixAccessToken.objects.create(instance_id=business.instance_id, access_token="x")
    _expire(*businesses, settings=settings)
    return businesses


@pytest.mark.django_db
def test_a_purge_batch_costs_the_same_queries_for_2_businesses_as_for_8(settings):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for size in (2, 8):
        _expired_with_proposals(size, settings=settings, proposals=2)
        with CaptureQueriesContext(connection) as queries:
            assert business_purge_uninstalled() == size
        counts.append(len(queries))
        assert not Business.objects.exists() and not Proposal.objects.exists()
        assert not WixAccessToken.objects.exists()
    assert counts[0] == counts[1], counts


@pytest.mark.django_db
def test_the_purge_goes_in_batches_bounded_by_businesses_and_proposals(settings, monkeypatch):
    import itertools

    from integrations import lifecycle

    settings.WIX_PURGE_BATCH_BUSINESSES = 3
    settings.WIX_PURGE_BATCH_PROPOSALS = 4
    settings.RETENTION_MAX_BATCHES = 1
    # Oldest removal first: two of two proposals fill the first batch's budget of four.
    first, second, third, fourth = _expired_with_proposals(4, settings=settings, proposals=2)
    assert business_purge_uninstalled() == 2
    assert set(Business.objects.values_list("pk", flat=True)) == {third.pk, fourth.pk}
    # A business bigger than the budget alone still goes, alone.
    big = BusinessFactory()
    for _ in range(5):
        make_sent_proposal(client=ClientFactory(business=big))
    Business.objects.filter(pk__in=[third.pk, fourth.pk]).update(
        uninstalled_at=timezone.now() - timedelta(days=settings.WIX_UNINSTALLED_RETENTION_DAYS + 2)
    )
    _expire(big, settings=settings, days_ago=settings.WIX_UNINSTALLED_RETENTION_DAYS + 3)
    assert business_purge_uninstalled() == 1
    assert set(Business.objects.values_list("pk", flat=True)) == {third.pk, fourth.pk}
    # A run past its seconds starts no more batches: the next run continues.
    settings.RETENTION_MAX_BATCHES = 10
    settings.WIX_PURGE_BATCH_BUSINESSES = 1
    clock = itertools.count(0.0, 31.0)  # each reading 31 s after the one before
    monkeypatch.setattr(lifecycle.time, "monotonic", lambda: next(clock))
    assert business_purge_uninstalled() == 1
    monkeypatch.undo()
    # With both budgets back, one run finishes what is due.
    assert business_purge_uninstalled() == 1
    assert not Business.objects.exists()


@pytest.mark.django_db
def test_the_purge_deletes_the_business_logos(settings, tmp_path):
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from proposals import branding

    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }
    gone, kept = BusinessFactory(), BusinessFactory()
    names = [
        branding.logo_store(business_id=business.pk, upload=ContentFile(b"png"), extension="png")
        for business in (gone, gone, kept)
    ]
    _expire(gone, settings=settings)
    assert business_purge_uninstalled() == 1
    assert [default_storage.exists(name) for name in names] == [False, False, True]


@pytest.mark.django_db(transaction=True)
def test_the_purge_skips_a_business_a_reinstall_holds(settings):
    import threading

    from django.db import connection, transaction

    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL")
    held, other = _expired_with_proposals(2, settings=settings)
    locked, release = threading.Event(), threading.Event()

    def reinstall() -> None:
        try:
            with transaction.atomic():
                Business.objects.select_for_update().get(pk=held.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=reinstall)
    thread.start()
    try:
        assert locked.wait(10)
        assert business_purge_uninstalled() == 1  # not waiting for the held row
    finally:
        release.set()
        thread.join(10)
    assert list(Business.objects.values_list("pk", flat=True)) == [held.pk]
    assert Proposal.objects.filter(business_id=held.pk).exists()


INSTANCE = "lifecycle-order-0001"


# One base for every event time of a test run: read from the clock per call, two times of one
# test could fall in different seconds.
_BASE = timezone.now().replace(microsecond=0) - timedelta(days=1)


def _at(minutes: int):
    return _BASE + timedelta(minutes=minutes)


@pytest.mark.django_db
def test_a_late_removal_older_than_a_repeated_install_is_ignored():
    install(instance_id=INSTANCE, occurred_at=_at(1))
    install(instance_id=INSTANCE, occurred_at=_at(3))
    uninstall(instance_id=INSTANCE, occurred_at=_at(2))
    business = Business.objects.get(instance_id=INSTANCE)
    assert business.status == Business.Status.ACTIVE
    assert business.installed_at == _at(3)
    assert business.uninstalled_at is None


@pytest.mark.django_db
def test_a_late_install_older_than_a_repeated_removal_is_ignored():
    install(instance_id=INSTANCE, occurred_at=_at(0))
    uninstall(instance_id=INSTANCE, occurred_at=_at(2))
    uninstall(instance_id=INSTANCE, occurred_at=_at(4))
    business, changed = install(instance_id=INSTANCE, occurred_at=_at(3))
    assert not changed
    business.refresh_from_db()
    assert business.status == Business.Status.UNINSTALLED
    assert business.uninstalled_at == _at(4)


@pytest.mark.django_db
def test_an_older_repeated_event_never_moves_the_lifecycle_times_back():
    install(instance_id=INSTANCE, occurred_at=_at(5))
    install(instance_id=INSTANCE, occurred_at=_at(1))
    assert Business.objects.get(instance_id=INSTANCE).installed_at == _at(5)
    uninstall(instance_id=INSTANCE, occurred_at=_at(8))
    uninstall(instance_id=INSTANCE, occurred_at=_at(6))
    assert Business.objects.get(instance_id=INSTANCE).uninstalled_at == _at(8)


@pytest.mark.django_db
def test_a_removal_delivered_before_its_older_install_leaves_the_business_uninstalled():
    business = uninstall(instance_id=INSTANCE, occurred_at=_at(10))
    assert business.status == Business.Status.UNINSTALLED
    business, changed = install(instance_id=INSTANCE, occurred_at=_at(5))
    assert not changed
    business.refresh_from_db()
    assert business.status == Business.Status.UNINSTALLED
    assert business.uninstalled_at == _at(10)
    assert Business.objects.filter(instance_id=INSTANCE).count() == 1


@pytest.mark.django_db
def test_an_install_after_a_removal_that_overtook_it_reactivates_the_business():
    uninstall(instance_id=INSTANCE, occurred_at=_at(10))
    business, changed = install(instance_id=INSTANCE, occurred_at=_at(20))
    assert changed
    assert business.status == Business.Status.ACTIVE
    assert business.uninstalled_at is None


@pytest.mark.django_db(transaction=True)
def test_installs_outside_a_transaction_create_once_and_reactivate():
    # As a drain runs them (autocommit): a new site is one INSERT; a repeated install meets
    # the row, and the locked path decides, leaving the connection usable.
    business, changed = install(instance_id=INSTANCE, occurred_at=_at(1))
    assert changed and business.status == Business.Status.ACTIVE
    again, changed = install(instance_id=INSTANCE, occurred_at=_at(3))
    assert (again.pk, changed) == (business.pk, False)
    assert Business.objects.get(pk=business.pk).installed_at == _at(3)
    uninstall(instance_id=INSTANCE, occurred_at=_at(4))
    back, changed = install(instance_id=INSTANCE, occurred_at=_at(5))
    assert (back.pk, changed, back.status) == (business.pk, True, Business.Status.ACTIVE)
    assert Business.objects.filter(instance_id=INSTANCE).count() == 1
