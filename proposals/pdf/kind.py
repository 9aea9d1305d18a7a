"""Rendering PDFs as an outbox kind (registered in ProposalsConfig.ready()).

Rendering takes 0.15-0.5 s for a usual proposal (about a second for a process's first) and over
a minute for one at the input limits (300 lines with long descriptions), so it never runs in a
request: the download records a
pending row and a worker renders it (``proposals.pdf.work``). Settings:
``OUTBOX_PROPOSAL_PDF_MAX_ATTEMPTS``, ``…_BATCH_SIZE``, … (then ``OUTBOX_DEFAULTS``).
"""

from common import outbox
from proposals.models import ProposalPdf

PROPOSAL_PDF = outbox.Kind(
    name="proposal_pdf",
    model="proposals.ProposalPdf",
    work="proposals.pdf.work.pdfs_work",
    on_lease_expired="proposals.pdf.work.pdfs_interrupted",
    # Plain strings: the claim passes them to raw SQL.
    due_states=(str(ProposalPdf.State.PENDING),),
    working_state=str(ProposalPdf.State.RENDERING),
    select_related=("version", "proposal", "proposal__business"),
    lease_error="worker lost while rendering",
    success_outcomes=("rendered",),
    retry_outcomes=("retry",),
)
