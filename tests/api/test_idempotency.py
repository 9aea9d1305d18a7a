import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from proposals import services
from proposals.api.idempotency import idempotency_keys_prune
from proposals.models import IdempotencyKey, Proposal
from tests.api.conftest import bearer_client

pytestmark = pytest.mark.django_db


def _body(customer, title="Roof"):
    return {
        "client": customer.pk,
        "title": title,
        "sections": [{"items": [{"name": "Tiles", "unit_price": "10"}]}],
    }


def test_same_key_same_request_creates_one_proposal_and_replays_the_response(api, customer):
    first = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    second = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert first.status_code == second.status_code == 201
    assert first.content == second.content
    assert first["Location"] == second["Location"]
    assert second["Idempotent-Replayed"] == "true"
    assert Proposal.objects.filter(business=customer.business).count() == 1


def test_same_key_with_other_parameters_is_422(api, customer):
    api.post("/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-2")

    response = api.post(
        "/api/v1/proposals/", _body(customer, "Other"), format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    assert Proposal.objects.filter(business=customer.business).count() == 1


def test_same_key_on_another_path_is_422(api, customer, draft):
    api.post("/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-3")

    response = api.post(
        f"/api/v1/proposals/{draft.pk}/duplicate/", format="json", HTTP_IDEMPOTENCY_KEY="k-3"
    )

    assert response.status_code == 422


def test_refusals_are_replayed_too(api, draft):
    """A 409 from the service is the answer to that request: a retry gets the same 409."""
    first = api.post(
        f"/api/v1/proposals/{draft.pk}/withdraw/", format="json", HTTP_IDEMPOTENCY_KEY="w"
    )
    services.proposal_send(proposal=draft, acting_user=None)
    second = api.post(
        f"/api/v1/proposals/{draft.pk}/withdraw/", format="json", HTTP_IDEMPOTENCY_KEY="w"
    )

    assert first.status_code == second.status_code == 409
    assert second["Content-Type"] == "application/problem+json"
    assert first.content == second.content
    draft.refresh_from_db()
    assert draft.status == "sent"


def test_keys_belong_to_one_api_key(api, customer, business):
    from accounts.services import api_key_create

    _, raw = api_key_create(business=business, name="second", acting_user=None)
    api.post("/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="same")

    response = bearer_client(raw).post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="same"
    )

    assert response.status_code == 201
    assert "Idempotent-Replayed" not in response
    assert Proposal.objects.filter(business=business).count() == 2


def test_a_server_error_is_not_stored_so_a_retry_can_succeed(api, customer, monkeypatch):
    real_create = services.proposal_create

    def broken(**kwargs):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(services, "proposal_create", broken)
    failed = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-5"
    )
    monkeypatch.setattr(services, "proposal_create", real_create)
    retried = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-5"
    )

    assert failed.status_code == 500
    assert failed["Content-Type"] == "application/problem+json"
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried


def _database_restart(monkeypatch, *, dead_releases: int, drop_socket: bool = False):
    """A PostgreSQL restart mid-request: the handler fails with the database, and so do the
    release's first ``dead_releases`` statements (``drop_socket``: on a connection the server
    dropped). Returns ``recover``, which brings the database back."""
    from django.db import InterfaceError, OperationalError
    from django.db.models.query import QuerySet

    real_create, real_delete = services.proposal_create, QuerySet.delete
    dead: list[QuerySet] = []

    def restart(**kwargs):
        raise OperationalError("terminating connection due to administrator command")

    def delete(self):
        if self.model is IdempotencyKey and len(dead) < dead_releases:
            dead.append(self)
            if drop_socket:
                connection.connection.close()
                raise InterfaceError("connection already closed")
            raise OperationalError("server closed the connection unexpectedly")
        return real_delete(self)

    def recover() -> int:
        monkeypatch.setattr(services, "proposal_create", real_create)
        monkeypatch.setattr(QuerySet, "delete", real_delete)
        return len(dead)

    monkeypatch.setattr(services, "proposal_create", restart)
    monkeypatch.setattr(QuerySet, "delete", delete)
    return recover


def test_a_claim_whose_release_failed_with_the_database_frees_itself_within_a_minute(
    api, customer, monkeypatch, settings
):
    # The database is still down when the claim is released: the client sees the original
    # error, and a retry after the lock time (not 5 minutes) goes through.
    recover = _database_restart(monkeypatch, dead_releases=10)
    failed = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-db"
    )
    recover()
    busy = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-db"
    )
    assert settings.IDEMPOTENCY_LOCK_SECONDS <= 60
    IdempotencyKey.objects.update(
        locked_at=timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_LOCK_SECONDS + 1)
    )
    retried = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-db"
    )

    assert failed.status_code == 500
    assert busy.status_code == 409
    assert retried.status_code == 201
    assert Proposal.objects.filter(business=customer.business).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_release_on_a_connection_broken_by_a_restart_retries_on_a_new_one(
    api, customer, monkeypatch
):
    # The release's first statement finds the connection the restart broke. It reconnects
    # and frees the claim, so the client's retry with the same key goes through at once
    # instead of answering 409 for the lock time.
    recover = _database_restart(monkeypatch, dead_releases=1, drop_socket=True)
    failed = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-restart"
    )
    assert recover() == 1
    retried = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="k-restart"
    )

    assert failed.status_code == 500
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried
    assert Proposal.objects.filter(business=customer.business).count() == 1


def test_invalid_key_is_400(api, customer):
    response = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="x" * 300
    )

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert not Proposal.objects.exists()


def test_expired_keys_are_pruned_and_start_afresh(api, customer):
    api.post("/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="old")
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=25))

    reused = api.post(
        "/api/v1/proposals/", _body(customer, "New"), format="json", HTTP_IDEMPOTENCY_KEY="old"
    )
    assert reused.status_code == 201
    IdempotencyKey.objects.update(created_at=timezone.now() - timedelta(hours=23))
    assert idempotency_keys_prune() == 0
    assert idempotency_keys_prune(now=timezone.now() + timedelta(hours=2)) == 1


def test_pruning_goes_in_bounded_batches(business):
    old = timezone.now() - timedelta(days=2)
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(
            business=business, scope="key:1", key=f"k{n}", request_hash="h", method="POST",
            path="/", locked_at=old,
        )
        for n in range(7)
    )  # fmt: skip
    IdempotencyKey.objects.update(created_at=old)

    assert idempotency_keys_prune(batch_size=3, max_batches=2) == 6
    assert idempotency_keys_prune(batch_size=3, max_batches=2) == 1
    assert not IdempotencyKey.objects.exists()


def test_a_claim_in_progress_is_409_until_its_lock_expires(api, customer):
    api.post("/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="stuck")
    # As if that request were still running (or its process had died mid-way).
    IdempotencyKey.objects.update(state="in_progress", locked_at=timezone.now())
    Proposal.objects.all().delete()

    busy = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="stuck"
    )
    IdempotencyKey.objects.update(locked_at=timezone.now() - timedelta(hours=1))
    taken_over = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="stuck"
    )

    assert busy.status_code == 409
    assert taken_over.status_code == 201
    assert Proposal.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_twin_gets_409_and_one_proposal_is_created(api_key, customer, monkeypatch):
    if connection.vendor != "postgresql":
        # SQLite lets one writer in at a time: the twin waits for the lock instead of racing.
        pytest.skip("needs concurrent writers (PostgreSQL, as in CI and production)")
    raw = api_key[1]
    entered = threading.Event()
    release = threading.Event()
    real_create = services.proposal_create

    def slow_create(**kwargs):
        entered.set()
        assert release.wait(10)
        return real_create(**kwargs)

    monkeypatch.setattr(services, "proposal_create", slow_create)
    results = {}

    def first():
        try:
            results["first"] = bearer_client(raw).post(
                "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="race"
            )
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert entered.wait(10)
        second = bearer_client(raw).post(
            "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="race"
        )
    finally:
        release.set()
        thread.join(20)

    assert second.status_code == 409
    assert second.json()["code"] == "idempotency_key_in_use"
    assert results["first"].status_code == 201
    assert Proposal.objects.filter(business=customer.business).count() == 1
    replay = bearer_client(raw).post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="race"
    )
    assert replay.content == results["first"].content


def test_a_crash_before_the_response_is_stored_leaves_no_proposal(api, customer, monkeypatch):
    from proposals.api import idempotency

    def crash(record, response):
        raise RuntimeError("process died here")

    monkeypatch.setattr(idempotency, "_store", crash)
    failed = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="c"
    )
    monkeypatch.undo()

    assert failed.status_code == 500
    assert not Proposal.objects.exists()
    retried = api.post(
        "/api/v1/proposals/", _body(customer), format="json", HTTP_IDEMPOTENCY_KEY="c"
    )
    assert retried.status_code == 201
    assert Proposal.objects.count() == 1
