"""Dashboard: the business's clients (list, create, edit)."""

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from accounts.http import MemberRequest
from proposals import rules, selectors, services
from proposals.forms import ClientForm, apply_validation_error
from proposals.views._helpers import business_required, paginate


@require_safe
@business_required
def client_list(request: MemberRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[: rules.MAX_SEARCH]
    clients = selectors.client_list(business=request.business, search=search or None)
    return render(
        request,
        "proposals/clients/list.html",
        {
            "page": paginate(request, clients),
            "search": search,
            "query": urlencode({"q": search}) if search else "",
        },
    )


@business_required
def client_create(request: MemberRequest) -> HttpResponse:
    form = ClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            client = services.client_create(
                business=request.business, acting_user=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Client {client.name} added.")
            next_url = request.POST.get("next")
            if next_url == "new_proposal":
                return redirect(f"{reverse('dashboard:proposal_create')}?client={client.pk}")
            return redirect("dashboard:client_list")
    status = 400 if form.is_bound else 200
    return render(
        request,
        "proposals/clients/form.html",
        {"form": form, "client": None, "next": request.GET.get("next", "")},
        status=status,
    )


@business_required
def client_edit(request: MemberRequest, pk: int) -> HttpResponse:
    client = selectors.client_get(business=request.business, pk=pk)
    form = ClientForm(
        request.POST or None,
        initial={"name": client.name, "email": client.email, "company": client.company},
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.client_update(client=client, acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, f"Client {client.name} saved.")
            return redirect("dashboard:client_list")
    status = 400 if form.is_bound else 200
    return render(
        request, "proposals/clients/form.html", {"form": form, "client": client}, status=status
    )
