"""Abstract bases for outbox rows and their attempts: the fields the engine reads and writes.

A kind's model inherits ``OutboxRow`` (and declares its own ``state`` field with its choices,
plus a partial index on due rows — see ``due_index``); its attempt log, if it keeps one,
inherits ``AttemptBase`` so every queue shows its tries the same way on the timeline and in
the admin.
"""

from django.db import models


class OutboxRow(models.Model):
    """The engine's bookkeeping on a queue row (the model adds ``state`` and its payload)."""

    attempt_count = models.PositiveIntegerField(default=0)
    # When the row is due; NULL once it needs no more work (done, failed for good, cancelled).
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # The lease of the worker holding the row; past it, the sweeper takes the row back.
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        abstract = True


def due_index(*, name: str, due_states: tuple[str, ...], state_field: str = "state"):
    """The partial index that serves the claim: due rows in due order."""
    return models.Index(
        fields=["next_attempt_at", "id"],
        condition=models.Q(**{f"{state_field}__in": list(due_states)}),
        name=name,
    )


def lease_index(*, name: str, working_state: str, state_field: str = "state"):
    """The partial index that serves the sweeper: leases that ran out."""
    return models.Index(
        fields=["claimed_until", "id"],
        condition=models.Q(**{state_field: working_state}),
        name=name,
    )


class AttemptBase(models.Model):
    """One try at a queue row's work, with its outcome (the model adds the FK to its row)."""

    class Outcome(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        SENT = "sent", "Sent"
        TRANSIENT_FAILURE = "transient_failure", "Transient failure"
        PERMANENT_FAILURE = "permanent_failure", "Permanent failure"
        INTERRUPTED = "interrupted", "Interrupted (worker lost)"

    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=20, choices=Outcome.choices, default=Outcome.IN_PROGRESS)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200, blank=True)
    request_id = models.CharField(max_length=128, blank=True, db_index=True)

    class Meta:
        abstract = True
