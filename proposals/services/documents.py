"""PDFs of a sent version and of its acceptance: ask for one, get the stored bytes verified.

The first download records a pending ``ProposalPdf`` (an outbox row a worker renders:
``proposals.pdf.work``) and says it is being prepared; every later one reads the stored
file and checks it against the SHA-256 recorded when it was rendered, so every download is
the same bytes.

A stored file that fails the check (changed or lost in storage) is never served. It is
logged (``proposal_pdf_tampered``, a warning with the expected and found hashes) and
re-rendered from the frozen version: the renderer is deterministic, so the new bytes hash to
the recorded value and the original file is restored; if they do not (the renderer or its
fonts changed since), the row fails and downloads answer that the PDF cannot be verified —
the recorded hash stays the truth, and support sees the reason on the row.
"""

import hashlib
from dataclasses import dataclass

import structlog
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from common import outbox
from proposals.models import ProposalPdf, ProposalVersion
from proposals.pdf.kind import PROPOSAL_PDF

log = structlog.get_logger(__name__)

State = ProposalPdf.State


@dataclass(frozen=True)
class PdfDownload:
    """What a download gets: the verified bytes, or why there are none yet."""

    state: str  # "ready", "preparing" or "failed"
    data: bytes = b""
    sha256: str = ""
    filename: str = ""


def pdf_filename(*, version: ProposalVersion, kind: str) -> str:
    number = str(version.snapshot.get("number") or f"proposal-{version.proposal_id}")
    suffix = "accepted" if kind == ProposalPdf.Kind.ACCEPTED else f"v{version.number}"
    return f"{number}-{suffix}.pdf"


def proposal_pdf(*, version: ProposalVersion, kind: str) -> PdfDownload:
    """The PDF of ``version`` (``kind``: as sent, or as accepted), verified against its hash.

    The caller has checked that the version is the caller's to read and, for ``accepted``,
    that it was accepted.
    """
    row = ProposalPdf.objects.filter(version=version, kind=kind).first()
    if row is None:
        _request(version=version, kind=kind)
        return PdfDownload(state="preparing")
    if row.state == State.FAILED:
        return PdfDownload(state="failed")
    if row.state != State.READY:
        return PdfDownload(state="preparing")
    data = _read(row.file_name)
    digest = hashlib.sha256(data).hexdigest() if data is not None else None
    if digest == row.sha256:
        return PdfDownload(
            state="ready",
            data=data or b"",
            sha256=digest,
            filename=pdf_filename(version=version, kind=kind),
        )
    log.warning(
        "proposal_pdf_tampered",
        pdf_id=row.pk,
        proposal_id=row.proposal_id,
        kind=kind,
        expected_sha256=row.sha256,
        found_sha256=digest,
        missing=data is None,
    )
    with transaction.atomic():
        ProposalPdf.objects.filter(pk=row.pk, state=State.READY).update(
            state=State.PENDING,
            attempt_count=0,
            next_attempt_at=timezone.now(),
            last_error="stored file failed its SHA-256 check: re-rendering",
        )
        outbox.record_on_commit(PROPOSAL_PDF)
    return PdfDownload(state="preparing")


def _request(*, version: ProposalVersion, kind: str) -> None:
    """Record the pending row (once: two first downloads at once record one) and a drain."""
    try:
        with transaction.atomic():
            ProposalPdf.objects.create(
                business_id=version.business_id,
                proposal_id=version.proposal_id,
                version=version,
                kind=kind,
                next_attempt_at=timezone.now(),
            )
            outbox.record_on_commit(PROPOSAL_PDF)
    except IntegrityError:  # the other download recorded it
        return
    log.info("proposal_pdf_requested", proposal_id=version.proposal_id, kind=kind)


def _read(name: str) -> bytes | None:
    if not name:
        return None
    try:
        with default_storage.open(name) as handle:
            return handle.read()
    except (FileNotFoundError, OSError):
        return None
