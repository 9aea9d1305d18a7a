"""The client's proposal page (``/p/<token>``): read, tick options, accept or decline.

Every response is ``noindex`` and sends no referrer (the token is the only key to the page).
A signed-in member of the business that sent the proposal sees the page read-only: answering
is the client's (an owner accepting "as the client" would sign in their client's name).
"""

from collections.abc import Callable

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe

from accounts.models import Membership
from common.locale_middleware import as_the_business_writes
from proposals import branding, selectors, services
from proposals.forms import AcceptForm, DeclineForm, apply_validation_error
from proposals.models import ProposalPdf, ProposalVersion
from proposals.views._helpers import (
    FORM_PAGE_REFERRER_POLICY,
    client_ip,
    no_index,
    public_items,
    rate_limited,
    user_agent,
)
from proposals.views.documents import pdf_response

log = structlog.get_logger(__name__)

# States that are not an open proposal, with the HTTP status their page answers.
STATE_STATUS = {
    "accepted": 200,
    "declined": 200,
    "expired": 410,
    "withdrawn": 410,
    "superseded": 410,
    "unavailable": 410,
}


def _not_found(request: HttpRequest, *, signed_in_elsewhere: bool = False) -> HttpResponse:
    return no_index(
        render(
            request,
            "public/not_found.html",
            {"signed_in_elsewhere": signed_in_elsewhere},
            status=404,
        )
    )


class ClientPageRequest(HttpRequest):
    """A request on the client's page: ``_is_member`` caches its answer on it."""

    _proposal_member_of: tuple[int, bool]


def _version_or_404(request: ClientPageRequest, token: str) -> ProposalVersion | HttpResponse:
    """The version behind a token, or the 404 response.

    A user signed in to the dashboard of business A never sees business B's proposals on any
    door, links included (PRODUCT §3.8): the page answers 404 and says how to open it as a
    client (sign out, or use another browser).
    """
    version = selectors.version_by_token(token=token)
    if version is None:
        return _not_found(request)
    business = getattr(request, "business", None)
    if (
        business is not None
        and business.pk != version.business_id
        and not _is_member(request, version)
    ):
        return _not_found(request, signed_in_elsewhere=True)
    return version


def _is_member(request: ClientPageRequest, version: ProposalVersion) -> bool:
    """Whether the signed-in user works for the business that sent this proposal.

    Any membership counts, not only the business chosen in the dashboard: a user of two
    businesses opening the other one's link is still its member, never its client. Cached on
    the request (the page asks more than once).
    """
    cached = getattr(request, "_proposal_member_of", None)
    if cached is not None and cached[0] == version.business_id:
        return cached[1]
    business = getattr(request, "business", None)
    user = getattr(request, "user", None)
    if business is not None and business.pk == version.business_id:
        member = True
    elif user is None or not user.is_authenticated:
        member = False
    else:
        member = Membership.objects.filter(user=user, business_id=version.business_id).exists()
    request._proposal_member_of = (version.business_id, member)
    return member


def _state_page(request: ClientPageRequest, version: ProposalVersion, state: str, status=None):
    proposal = version.proposal
    snapshot = version.snapshot
    context = {
        "state": state,
        "version": version,
        "token": version.token,
        "snapshot": snapshot,
        "brand": snapshot.get("business", {}),
        "proposal": proposal,
        "member_view": _is_member(request, version),
    }
    if state == "accepted":
        context.update(_accepted_content(version))
    elif state == "superseded":
        context["newer_version"] = selectors.newer_version_for(version=version)
    # Amounts and times as the sending business writes them (the client has no dashboard).
    with as_the_business_writes(proposal.business):
        return no_index(
            render(
                request, "public/state.html", context, status=status or STATE_STATUS.get(state, 410)
            )
        )


def _accepted_content(version: ProposalVersion) -> dict:
    """What the client signed: the version's sections with their choices, totals, signature
    (``selectors.accepted_content``, as the dashboard, the API and the admin show it)."""
    acceptance = getattr(version.proposal, "acceptance", None)
    if acceptance is None or acceptance.version_id != version.pk:
        return {"acceptance": None}
    acceptance.version = version  # the snapshot already read, not read again
    content = selectors.accepted_content(acceptance=acceptance)
    return {"acceptance": acceptance, "totals": content.totals, "sections": content.sections}


def _proposal_page(
    request: ClientPageRequest,
    version: ProposalVersion,
    *,
    selected: set[str] | None,
    accept_form: AcceptForm | None = None,
    decline_form: DeclineForm | None = None,
    status: int = 200,
    refused_member: bool = False,
) -> HttpResponse:
    snapshot = version.snapshot
    totals = selectors.version_totals(version=version, selected_keys=selected)
    with as_the_business_writes(version.proposal.business):
        response = render(
            request,
            "public/proposal.html",
            {
                "preview": False,
                "member_view": _is_member(request, version),
                "refused_member": refused_member,
                "proposal": version.proposal,
                "version": version,
                "token": version.token,
                "snapshot": snapshot,
                "brand": snapshot.get("business", {}),
                "sections": public_items(snapshot, totals, selected),
                "totals": totals,
                "accept_form": accept_form or AcceptForm(),
                "decline_form": decline_form or DeclineForm(),
                "referrer_policy": FORM_PAGE_REFERRER_POLICY,
            },
            status=status,
        )
    return no_index(response, referrer_policy=FORM_PAGE_REFERRER_POLICY)


@require_safe
def proposal_page(request: ClientPageRequest, token: str) -> HttpResponse:
    version = _version_or_404(request, token)
    if isinstance(version, HttpResponse):
        return version
    state = selectors.public_page_state(version=version)
    if (
        request.method == "GET"
        and state not in ("withdrawn", "unavailable")
        and not _is_member(request, version)
    ):
        # The business opening its own link is not its client reading it.
        services.proposal_mark_viewed(
            version=version, ip=client_ip(request), user_agent=user_agent(request)
        )
    if state != "open":
        return _state_page(request, version, state)
    selected = set(request.GET.getlist("item")) if "update_total" in request.GET else None
    return _proposal_page(request, version, selected=selected)


@require_safe
def proposal_pdf(request: ClientPageRequest, token: str) -> HttpResponse:
    """The client's PDF: what they signed once accepted, else the version as sent.

    A link that no longer shows the proposal (withdrawn, expired, superseded, declined, …)
    answers as the page does, with the same state page; downloading records no view.
    """
    version = _version_or_404(request, token)
    if isinstance(version, HttpResponse):
        return version
    state = selectors.public_page_state(version=version)
    if state not in ("open", "accepted"):
        return _state_page(request, version, state)
    kind = ProposalPdf.Kind.ACCEPTED if state == "accepted" else ProposalPdf.Kind.SENT
    return no_index(pdf_response(request, services.proposal_pdf(version=version, kind=kind)))


def _answer_guard(request: ClientPageRequest, token: str) -> ProposalVersion | HttpResponse:
    """Rate limit, then the version and its state; a response when the answer can't go on."""
    if rate_limited(
        scope="public-answer", ip=client_ip(request), rate=settings.PUBLIC_ANSWER_RATE_LIMIT
    ):
        return no_index(render(request, "public/rate_limited.html", status=429))
    version = _version_or_404(request, token)
    if isinstance(version, HttpResponse):
        return version
    state = selectors.public_page_state(version=version)
    if state != "open":
        return _state_page(request, version, state, status=409)
    if _is_member(request, version):
        # The business cannot answer for its client: the same page, read-only, says so.
        log.info(
            "proposal_answer_refused_member",
            proposal_id=version.proposal_id,
            user_id=request.user.pk,
        )
        return _proposal_page(request, version, selected=None, status=403, refused_member=True)
    return version


def _to_page(token: str) -> HttpResponse:
    """GET on an answer address (a reload, a bookmark, a shared link): the proposal page."""
    return no_index(redirect("public:proposal", token=token))


@require_http_methods(["GET", "HEAD", "POST"])
def proposal_accept(request: ClientPageRequest, token: str) -> HttpResponse:
    if request.method != "POST":
        return _to_page(token)
    selected = set(request.POST.getlist("item"))
    if "update_total" in request.POST:
        # The no-JavaScript "Update total" button: show the new total, accept nothing.
        version = _version_or_404(request, token)
        if isinstance(version, HttpResponse):
            return version
        state = selectors.public_page_state(version=version)
        if state != "open":
            return _state_page(request, version, state)
        form = AcceptForm(initial={"signed_name": request.POST.get("signed_name", "")})
        return _proposal_page(request, version, selected=selected, accept_form=form)

    version = _answer_guard(request, token)
    if isinstance(version, HttpResponse):
        return version
    form = AcceptForm(request.POST)
    if form.is_valid():
        answered = _answered(
            request,
            version,
            form,
            lambda: services.proposal_accept(
                version=version,
                signed_name=form.cleaned_data["signed_name"],
                agreed=form.cleaned_data["agreed"],
                selected_item_keys=sorted(selected),
                ip=client_ip(request),
                user_agent=user_agent(request),
            ),
        )
        if answered is not None:
            return answered
    return _proposal_page(request, version, selected=selected, accept_form=form, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
def proposal_decline(request: ClientPageRequest, token: str) -> HttpResponse:
    if request.method != "POST":
        return _to_page(token)
    version = _answer_guard(request, token)
    if isinstance(version, HttpResponse):
        return version
    form = DeclineForm(request.POST)
    if form.is_valid():
        answered = _answered(
            request,
            version,
            form,
            lambda: services.proposal_decline(
                version=version,
                reason=form.cleaned_data["reason"],
                ip=client_ip(request),
                user_agent=user_agent(request),
            ),
        )
        if answered is not None:
            return answered
    return _proposal_page(request, version, selected=None, decline_form=form, status=400)


def _answered(
    request: ClientPageRequest, version: ProposalVersion, form, answer: Callable[[], object]
) -> HttpResponse | None:
    """Give the client's answer (``answer``, a service call): the page again once it is taken,
    the state page (409) when the service refused it; None when the input was refused (its
    errors are on ``form``, to be shown with the page)."""
    try:
        answer()
    except ValidationError as exc:
        apply_validation_error(form, exc)
        return None
    except services.ProposalError:
        version.proposal.refresh_from_db()
        return _state_page(request, version, _state_after_refusal(version), status=409)
    return no_index(redirect("public:proposal", token=version.token))


def _state_after_refusal(version: ProposalVersion) -> str:
    state = selectors.public_page_state(version=version)
    return state if state != "open" else "unavailable"


@require_safe
def brand_logo(request: HttpRequest, name: str) -> FileResponse:
    """A business's logo, read through the storage API (whatever backend holds it).

    Only names ``branding.logo_store`` gives are served; each upload gets a new name, so a
    logo can be cached for good.
    """
    if not branding.LOGO_NAME.match(name) or not default_storage.exists(name):
        raise Http404("No such logo.")
    extension = name.rpartition(".")[2]
    response = FileResponse(default_storage.open(name), content_type=branding.LOGO_TYPES[extension])
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    response["Content-Security-Policy"] = "default-src 'none'"
    return response
