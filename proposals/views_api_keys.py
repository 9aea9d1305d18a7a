"""Dashboard: the business's API keys (create — the key is shown once —, list, revoke)."""

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.http import MemberRequest
from accounts.models import ApiKey, Membership
from accounts.scoping import get_for_business_or_404, scoped
from accounts.selectors import membership_for
from accounts.services import api_key_create, api_key_revoke
from proposals.views._helpers import business_required

MANAGERS = (Membership.Role.OWNER, Membership.Role.ADMIN)


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="What uses this key, e.g. “Zapier” or “CRM sync”."
    )


def _can_manage(request: MemberRequest) -> bool:
    membership = membership_for(user=request.user, business=request.business)
    return membership is not None and membership.role in MANAGERS


# The new key in clear, between the POST that created it and the one GET that shows it
# (post/redirect/get: a reload creates nothing). Popped on that GET, and by the list page, so
# it stays in the session store no longer than the way from the form to the key's page.
CREATED_KEY_SESSION = "api_key_created"


@require_http_methods(["GET", "HEAD", "POST"])
@business_required
def api_key_list(request: MemberRequest) -> HttpResponse:
    can_manage = _can_manage(request)
    form = ApiKeyForm(request.POST or None)
    if request.method == "POST":
        if not can_manage:
            raise Http404("Only owners and admins manage API keys.")
        if form.is_valid():
            key, raw = api_key_create(
                business=request.business,
                name=form.cleaned_data["name"],
                acting_user=request.user,
            )
            request.session[CREATED_KEY_SESSION] = {"id": key.pk, "raw": raw}
            return redirect("dashboard:api_key_created")
    else:
        request.session.pop(CREATED_KEY_SESSION, None)
    keys = (
        scoped(ApiKey, request.business)
        .select_related("created_by")
        .order_by("revoked_at", "-created_at")[:200]
    )
    return render(
        request,
        "proposals/api_keys.html",
        {"keys": keys, "form": form, "can_manage": can_manage},
        status=400 if form.is_bound else 200,
    )


@require_safe
@business_required
def api_key_created(request: MemberRequest) -> HttpResponse:
    """The new key, once: a reload (or a second tab) finds it gone and says so."""
    created = request.session.pop(CREATED_KEY_SESSION, None) if request.method == "GET" else None
    key = None
    if isinstance(created, dict) and isinstance(created.get("id"), int):
        key = scoped(ApiKey, request.business).filter(pk=created["id"]).first()
    if key is None:
        messages.info(
            request,
            "A new key is shown only once, right after it is created. If you did not copy it, "
            "revoke it and create another.",
        )
        return redirect("dashboard:api_keys")
    assert isinstance(created, dict)  # the key was found through it
    response = render(
        request, "proposals/api_keys_created.html", {"key": key, "raw_key": created["raw"]}
    )
    # The one time the key exists in clear: never cached, never stored by a browser.
    response["Cache-Control"] = "no-store"
    return response


@require_POST
@business_required
def api_key_revoke_view(request: MemberRequest, pk: int) -> HttpResponse:
    if not _can_manage(request):
        raise Http404("Only owners and admins manage API keys.")
    key = get_for_business_or_404(ApiKey, request.business, pk=pk)
    api_key_revoke(api_key=key, acting_user=request.user)
    messages.success(request, f"Key “{key.name}” revoked; requests using it now get 401.")
    return redirect("dashboard:api_keys")
