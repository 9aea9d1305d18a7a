from django.db import models

from accounts.scoping import BusinessOwned
from common.outbox.models import OutboxRow, due_index, lease_index


class PdfKind(models.TextChoices):
    """Which PDF of a version (``ProposalPdf.Kind``)."""

    SENT = "sent", "As sent"
    ACCEPTED = "accepted", "As accepted"


class PdfState(models.TextChoices):
    """Where a PDF is (``ProposalPdf.State``): waiting for a worker, being rendered, stored."""

    PENDING = "pending", "Pending"
    RENDERING = "rendering", "Rendering"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


class ProposalPdf(OutboxRow, BusinessOwned):
    """A PDF of a sent version or of its acceptance: rendered once, stored with its SHA-256.

    The row is the outbox record of the rendering (``proposals.pdf.kind``) and, once ready, of
    the stored file: every download reads the file and checks it against ``sha256``.
    """

    Kind = PdfKind
    State = PdfState

    proposal = models.ForeignKey(
        "proposals.Proposal", on_delete=models.CASCADE, related_name="pdfs"
    )
    version = models.ForeignKey(
        "proposals.ProposalVersion", on_delete=models.CASCADE, related_name="pdfs"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING)
    # Set once, by the first rendering; a later one (after a tampered file) must match it.
    file_name = models.CharField(max_length=200, blank=True, default="", db_default="")
    sha256 = models.CharField(max_length=64, blank=True, default="", db_default="")
    size = models.PositiveIntegerField(null=True, blank=True)
    render_ms = models.PositiveIntegerField(null=True, blank=True)
    renderer = models.CharField(max_length=40, blank=True, default="", db_default="")
    rendered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "kind"], name="proposal_pdf_unique")
        ]
        indexes = [
            due_index(name="proposal_pdf_due_idx", due_states=(PdfState.PENDING,)),
            lease_index(name="proposal_pdf_lease_idx", working_state=PdfState.RENDERING),
            models.Index(fields=["business", "-id"], name="proposal_pdf_business_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.proposal_id} v{self.version_id} {self.kind} ({self.state})"
