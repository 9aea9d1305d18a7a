from django.db import models


class IdempotencyKey(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key``, replayed on retries."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        DONE = "done", "Done"

    business = models.ForeignKey("accounts.Business", on_delete=models.CASCADE, related_name="+")
    # Who may replay it: "key:<api key id>" or "user:<user id>" (keys never cross callers).
    scope = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    # SHA-256 of method, path and canonical body: the same key with other parameters is a 422.
    request_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The rendered JSON, byte for byte: a replay must be identical (jsonb would reorder keys).
    response_body = models.TextField(blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # When the current claim started; a claim older than the lock time is taken over.
    locked_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} ({self.state})"
