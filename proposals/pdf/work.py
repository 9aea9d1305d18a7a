"""The worker's side of PDFs: render a claimed row, store the bytes once, record the SHA-256.

A row that already has a SHA-256 is a re-rendering after its stored file failed the check on
download (``services.documents``): the new bytes are stored only if they hash to the recorded
value (the renderer is deterministic), which restores the original file. Bytes that differ —
the renderer or its fonts changed since — are never served in place of what was recorded: the
row fails with the reason, for support, and downloads say the PDF cannot be verified.
"""

import hashlib
from datetime import datetime

import structlog
import weasyprint
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from common import outbox
from proposals.models import Acceptance, ProposalPdf
from proposals.pdf import render
from proposals.pdf.kind import PROPOSAL_PDF

log = structlog.get_logger(__name__)

State = ProposalPdf.State
RENDERER = f"weasyprint {weasyprint.__version__}"


def storage_name(*, business_id: int, sha256: str) -> str:
    """Where a PDF's bytes are stored: named by their own hash."""
    return f"pdfs/{business_id}/{sha256}.pdf"


def pdfs_work(batch: outbox.Batch) -> list:
    """Render the claimed rows one by one; returns those not started (out of time)."""
    left = []
    for row in batch.rows:
        if batch.out_of_time():
            left.append(row)
            continue
        batch.count(_render_row(row, now=batch.now))
    return left


def pdfs_interrupted(ids: list[int], *, now: datetime) -> int:
    """The sweeper took these rows back (their worker died, e.g. killed past ``Q_TIMEOUT``):
    a row that used its attempts fails for good instead of killing workers forever."""
    limit = PROPOSAL_PDF.setting("MAX_ATTEMPTS")
    return ProposalPdf.objects.filter(pk__in=ids, attempt_count__gte=limit).update(
        state=State.FAILED,
        next_attempt_at=None,
        last_error=f"worker lost while rendering, {limit} times: too large to render in time",
        updated_at=now,
    )


def _write(row: ProposalPdf, **values: object) -> int:
    """Update the row while this worker still holds it (its lease not taken back)."""
    held = ProposalPdf.objects.filter(pk=row.pk, state=State.RENDERING)
    return held.update(**values, updated_at=timezone.now())


def _render_row(row: ProposalPdf, *, now: datetime) -> str:
    attempts = row.attempt_count + 1
    # Counted before rendering: a worker killed mid-way has used its attempt.
    _write(row, attempt_count=F("attempt_count") + 1)
    context = {"pdf_id": row.pk, "proposal_id": row.proposal_id, "kind": row.kind}
    acceptance = None
    if row.kind == ProposalPdf.Kind.ACCEPTED:
        acceptance = Acceptance.objects.filter(
            proposal_id=row.proposal_id, version_id=row.version_id
        ).first()
        if acceptance is None:
            return _failed(row, now=now, error="this version was never accepted", **context)
    row.version.proposal = row.proposal  # the business is loaded with the row's proposal
    try:
        rendered = render.render(version=row.version, acceptance=acceptance)
    except Exception as exc:  # a renderer failure is this row's, never the whole batch's
        error = f"{exc.__class__.__name__}: {exc}"[:500]
        retry = outbox.retry_at(PROPOSAL_PDF, attempts=attempts, since=row.created_at, now=now)
        if retry is None:
            return _failed(row, now=now, error=error, **context)
        _write(
            row, state=State.PENDING, next_attempt_at=retry, claimed_until=None, last_error=error
        )
        log.warning("proposal_pdf_retry", error=error, attempts=attempts, **context)
        return "retry"
    digest = hashlib.sha256(rendered.data).hexdigest()
    if row.sha256 and digest != row.sha256:
        return _failed(
            row,
            now=now,
            error=f"re-rendered bytes (SHA-256 {digest}) differ from the recorded {row.sha256}",
            **context,
        )
    name = _stored(business_id=row.business_id, sha256=digest, data=rendered.data)
    _write(
        row,
        state=State.READY,
        file_name=name,
        sha256=digest,
        size=len(rendered.data),
        render_ms=rendered.duration_ms,
        renderer=RENDERER,
        rendered_at=timezone.now(),
        next_attempt_at=None,
        claimed_until=None,
        last_error="",
    )
    log.info(
        "proposal_pdf_rendered",
        restored=bool(row.sha256),
        size=len(rendered.data),
        duration_ms=rendered.duration_ms,
        **context,
    )
    return "rendered"


def _stored(*, business_id: int, sha256: str, data: bytes) -> str:
    """Save the bytes under their hash; a file already there is kept only if it is intact."""
    name = storage_name(business_id=business_id, sha256=sha256)
    if default_storage.exists(name):
        with default_storage.open(name) as handle:
            if hashlib.sha256(handle.read()).hexdigest() == sha256:
                return name
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


def _failed(row: ProposalPdf, *, now: datetime, error: str, **context: object) -> str:
    _write(row, state=State.FAILED, next_attempt_at=None, claimed_until=None, last_error=error)
    log.error("proposal_pdf_failed", error=error, **context)
    return "failed"
