"""Dashboard: proposal templates (list, create, edit, delete, start a proposal from one)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST, require_safe

from accounts.http import MemberRequest
from proposals import selectors, services
from proposals.forms import ScheduleEditor, SectionsEditor, TemplateForm
from proposals.views._catalog import idle_panel
from proposals.views._helpers import (
    apply_editor_errors,
    business_required,
    editor_with_new_row,
    paginate,
)


@require_safe
@business_required
def template_list(request: MemberRequest) -> HttpResponse:
    templates = selectors.template_list(business=request.business)
    return render(request, "proposals/templates/list.html", {"page": paginate(request, templates)})


def _template_form(request: MemberRequest, template=None) -> HttpResponse:
    if request.method == "POST":
        rebuilt = editor_with_new_row(request)
        if rebuilt is not None:
            initial = {key: request.POST.get(key) for key in TemplateForm.base_fields}
            sections_editor, schedule_editor = rebuilt
            form = TemplateForm(initial=initial)
            return _render(request, form, sections_editor, schedule_editor, template)
        form = TemplateForm(request.POST)
        editor = SectionsEditor(request.POST)
        schedule = ScheduleEditor(request.POST)
        if form.is_valid() & editor.is_valid() & schedule.is_valid():
            fields = {
                **form.cleaned_data,
                "sections": editor.cleaned_sections(),
                "payment_schedule": schedule.cleaned_schedule(),
            }
            try:
                if template is None:
                    saved = services.template_create(
                        business=request.business, acting_user=request.user, **fields
                    )
                else:
                    saved = services.template_update(
                        template=template, acting_user=request.user, **fields
                    )
            except ValidationError as exc:
                apply_editor_errors(form, exc, editor, schedule)
            else:
                messages.success(request, f"Template “{saved.name}” saved.")
                return redirect("dashboard:template_list")
        return _render(request, form, editor, schedule, template, status=400)
    if template is None:
        return _render(request, TemplateForm(), SectionsEditor(), ScheduleEditor(), None)
    form = TemplateForm(
        initial={
            "name": template.name,
            "title": template.title,
            "intro": template.intro,
            "terms": template.terms,
        }
    )
    parts = template.payment_schedule
    return _render(
        request,
        form,
        SectionsEditor(initial=template.sections, extra_items=0),
        ScheduleEditor(initial=parts, extra=0 if parts else 1),
        template,
    )


def _render(request, form, editor, schedule, template, status=200) -> HttpResponse:
    if editor.catalog is None:
        editor.catalog = idle_panel(request, editor)
    return render(
        request,
        "proposals/templates/form.html",
        {"form": form, "editor": editor, "schedule": schedule, "template": template},
        status=status,
    )


@business_required
def template_create(request: MemberRequest) -> HttpResponse:
    return _template_form(request)


@business_required
def template_edit(request: MemberRequest, pk: int) -> HttpResponse:
    return _template_form(request, selectors.template_get(business=request.business, pk=pk))


@business_required
def template_delete(request: MemberRequest, pk: int) -> HttpResponse:
    template = selectors.template_get(business=request.business, pk=pk)
    if request.method == "POST":
        name = template.name
        services.template_delete(template=template, acting_user=request.user)
        messages.success(request, f"Template “{name}” deleted.")
        return redirect("dashboard:template_list")
    return render(request, "proposals/templates/confirm_delete.html", {"template": template})


@require_POST
@business_required
def template_from_proposal(request: MemberRequest, pk: int) -> HttpResponse:
    """Save a proposal's working copy as a template, under the name typed on its page."""
    proposal = selectors.proposal_get(business=request.business, pk=pk)
    try:
        template = services.template_from_proposal(
            proposal=proposal, acting_user=request.user, name=request.POST.get("name", "")
        )
    except ValidationError as exc:
        messages.error(request, "Not saved as a template: " + " ".join(exc.messages))
        return redirect("dashboard:proposal_detail", pk=proposal.pk)
    messages.success(
        request, f"Saved as the template “{template.name}”: new proposals can start from it."
    )
    return redirect("dashboard:template_edit", pk=template.pk)
