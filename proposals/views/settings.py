"""Dashboard: the business's proposal settings (branding, reminders, default currency)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from proposals import selectors, services
from proposals.forms import SettingsForm, apply_validation_error
from proposals.views._helpers import business_required


@business_required
def settings_edit(request: HttpRequest) -> HttpResponse:
    business = request.business
    prefs = selectors.proposal_settings_for(business=business)
    form = SettingsForm(
        request.POST or None,
        initial={
            "brand_name": prefs.brand_name,
            "brand_color": prefs.brand_color,
            "remind_unopened_after_days": prefs.remind_unopened_after_days,
            "remind_unanswered_after_days": prefs.remind_unanswered_after_days,
            "default_currency": business.currency,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.settings_update(
                business=business, acting_user=request.user, **form.cleaned_data
            )
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "Settings saved.")
            return redirect("dashboard:settings")
    status = 400 if form.is_bound else 200
    return render(
        request,
        "proposals/settings.html",
        {"form": form, "business": business},
        status=status,
    )
