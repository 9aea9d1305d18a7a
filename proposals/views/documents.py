"""PDF downloads: the dashboard's (signed in, the business's own proposals) and the answer
every door gives (``pdf_response``); the client's is ``public.proposal_pdf``."""

import base64

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.http import MemberRequest
from proposals import selectors, services
from proposals.models import ProposalPdf
from proposals.views._helpers import business_required

# Seconds the "being prepared" page waits before asking again (a usual render takes ~1 s).
PREPARING_RETRY_SECONDS = 2


def pdf_response(request: HttpRequest, download: services.PdfDownload) -> HttpResponse:
    """The stored bytes, or a page saying they are being prepared or cannot be verified.

    A PDF that cannot be verified answers 409, not 5xx: the request is fine and retrying it
    cannot help; the stored document conflicts with its recorded hash (the row says why).
    """
    if download.state == "ready":
        response = HttpResponse(download.data, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
        # The same bytes every time: their hash is the validator, and the digest (RFC 9530).
        response["ETag"] = f'"{download.sha256}"'
        digest = base64.b64encode(bytes.fromhex(download.sha256)).decode()
        response["Repr-Digest"] = f"sha-256=:{digest}:"
        response["Cache-Control"] = "private, no-cache"
        response["X-Content-Type-Options"] = "nosniff"
        return response
    preparing = download.state == "preparing"
    response = render(
        request,
        "pdf/status.html",
        {"preparing": preparing, "retry_seconds": PREPARING_RETRY_SECONDS},
        status=202 if preparing else 409,
    )
    if preparing:
        response["Retry-After"] = str(PREPARING_RETRY_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


@require_safe
@business_required
def proposal_version_pdf(request: MemberRequest, pk: int, number: int) -> HttpResponse:
    """The PDF of one version as it was sent."""
    version = selectors.proposal_version_get(
        business_id=request.business.pk, proposal_pk=pk, number=number
    )
    return pdf_response(request, services.proposal_pdf(version=version, kind=ProposalPdf.Kind.SENT))


@require_safe
@business_required
def proposal_accepted_pdf(request: MemberRequest, pk: int) -> HttpResponse:
    """The PDF of what the client signed, with the signature."""
    acceptance = selectors.acceptance_for(business_id=request.business.pk, proposal_id=pk)
    if acceptance is None:
        raise Http404("Not accepted.")
    return pdf_response(
        request, services.proposal_pdf(version=acceptance.version, kind=ProposalPdf.Kind.ACCEPTED)
    )
