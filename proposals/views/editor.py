"""Dashboard: create and edit a proposal with its sections and line items."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.http import MemberRequest
from proposals import selectors, services
from proposals.forms import ProposalForm, ScheduleEditor, SectionsEditor
from proposals.models import Proposal
from proposals.views._catalog import idle_panel
from proposals.views._helpers import apply_editor_errors, business_required, editor_with_new_row


def _clients(business) -> list:
    return list(selectors.client_list(business=business))


def _posted_initial(request: HttpRequest) -> dict:
    return {key: request.POST.get(key) for key in ProposalForm.base_fields}


def _save(
    request: MemberRequest,
    form: ProposalForm,
    editor: SectionsEditor,
    schedule: ScheduleEditor,
    proposal: Proposal | None,
):
    """Call the service; return the saved proposal, or None with errors on the form."""
    if not (form.is_valid() & editor.is_valid() & schedule.is_valid()):
        return None
    data = form.cleaned_data
    try:
        if proposal is None:
            # A template only fills the form's initial values: what is posted is what the
            # user kept, so the template is not passed on (it would refill cleared fields).
            return services.proposal_create(
                business=request.business,
                acting_user=request.user,
                client=data["client"],
                title=data["title"],
                currency=data["currency"],
                valid_until=data["valid_until"],
                intro=data["intro"],
                terms=data["terms"],
                sections=editor.cleaned_sections(),
                payment_schedule=schedule.cleaned_schedule(),
            )
        return services.proposal_update(
            proposal=proposal,
            acting_user=request.user,
            title=data["title"],
            client=data["client"],
            currency=data["currency"],
            valid_until=data["valid_until"],
            intro=data["intro"],
            terms=data["terms"],
            sections=editor.cleaned_sections(),
            payment_schedule=schedule.cleaned_schedule(),
            expected_revision=data.get("revision"),
        )
    except ValidationError as exc:
        apply_editor_errors(form, exc, editor, schedule)
    except services.ProposalError as exc:
        form.add_error(None, exc.message)
    return None


def _render(request, form, editor, schedule, proposal, template=None, status=200) -> HttpResponse:
    if editor.catalog is None:
        editor.catalog = idle_panel(request, editor)
    return render(
        request,
        "proposals/edit.html",
        {
            "form": form,
            "editor": editor,
            "schedule": schedule,
            "proposal": proposal,
            "template": template,
            "has_clients": bool(form.clients_by_pk),
        },
        status=status,
    )


@business_required
def proposal_create(request: MemberRequest) -> HttpResponse:
    business = request.business
    clients = _clients(business)
    template = None
    if request.GET.get("template"):
        template = selectors.template_get(business=business, pk=request.GET["template"])
    if request.method == "POST":
        rebuilt = editor_with_new_row(request)
        if rebuilt is not None:
            form = ProposalForm(initial=_posted_initial(request), clients=clients)
            sections_editor, schedule_editor = rebuilt
            return _render(request, form, sections_editor, schedule_editor, None, template)
        form = ProposalForm(request.POST, clients=clients)
        editor = SectionsEditor(request.POST)
        schedule = ScheduleEditor(request.POST)
        proposal = _save(request, form, editor, schedule, None)
        if proposal is not None:
            messages.success(request, f"{proposal.display_number} created as a draft.")
            return redirect("dashboard:proposal_detail", pk=proposal.pk)
        return _render(request, form, editor, schedule, None, template, status=400)

    initial = {"currency": business.currency}
    sections = None
    parts: list[dict] = []
    if template is not None:
        initial.update(title=template.title or template.name, intro=template.intro)
        initial["terms"] = template.terms
        sections = template.sections
        parts = template.payment_schedule
    if request.GET.get("client"):
        initial["client"] = request.GET["client"]
    form = ProposalForm(initial=initial, clients=clients)
    schedule = ScheduleEditor(initial=parts, extra=0 if parts else 1)
    return _render(request, form, SectionsEditor(initial=sections), schedule, None, template)


@business_required
def proposal_edit(request: MemberRequest, pk: int) -> HttpResponse:
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    if proposal.is_locked:
        messages.error(request, "This proposal was accepted, so it can no longer be edited.")
        return redirect("dashboard:proposal_detail", pk=proposal.pk)
    if proposal.status not in services.EDITABLE:
        messages.error(
            request,
            f"A {proposal.get_status_display().lower()} proposal can't be edited. "
            "Duplicate it to start again.",
        )
        return redirect("dashboard:proposal_detail", pk=proposal.pk)
    clients = _clients(request.business)
    if request.method == "POST":
        rebuilt = editor_with_new_row(request)
        if rebuilt is not None:
            form = ProposalForm(initial=_posted_initial(request), clients=clients)
            sections_editor, schedule_editor = rebuilt
            return _render(request, form, sections_editor, schedule_editor, proposal)
        form = ProposalForm(request.POST, clients=clients)
        editor = SectionsEditor(request.POST)
        schedule = ScheduleEditor(request.POST)
        saved = _save(request, form, editor, schedule, proposal)
        if saved is not None:
            note = " Send it again so the client sees the changes." if saved.is_open else ""
            messages.success(request, f"Changes saved.{note}")
            return redirect("dashboard:proposal_detail", pk=saved.pk)
        return _render(request, form, editor, schedule, proposal, status=400)

    form = ProposalForm(
        initial={
            "title": proposal.title,
            "client": proposal.client_id,
            "currency": proposal.currency,
            "valid_until": proposal.valid_until,
            "intro": proposal.intro,
            "terms": proposal.terms,
            "revision": proposal.revision,
        },
        clients=clients,
    )
    editor = SectionsEditor(initial=selectors.working_copy_sections(proposal), extra_items=0)
    parts = proposal.payment_schedule
    schedule = ScheduleEditor(initial=parts, extra=0 if parts else 1)
    return _render(request, form, editor, schedule, proposal)
