"""Dashboard: the business's proposal settings (branding and logo, reminders, currency, zone)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render

from accounts.http import MemberRequest
from common.money import locale_label
from proposals import branding, selectors, services
from proposals.forms import SettingsForm, apply_validation_error
from proposals.views._helpers import business_required


@business_required
def settings_edit(request: MemberRequest) -> HttpResponse:
    business = request.business
    prefs = selectors.proposal_settings_for(business=business)
    form = SettingsForm(
        request.POST or None,
        request.FILES or None,
        initial={
            "brand_name": prefs.brand_name,
            "brand_color": prefs.brand_color,
            "remind_unopened_after_days": prefs.remind_unopened_after_days,
            "remind_unanswered_after_days": prefs.remind_unanswered_after_days,
            "default_currency": business.currency,
            "timezone": business.timezone,
            "locale": business.locale if business.locale_chosen else "",
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.settings_update(
                business=business,
                acting_user=request.user,
                brand_name=data["brand_name"],
                brand_color=data["brand_color"],
                remind_unopened_after_days=data["remind_unopened_after_days"],
                remind_unanswered_after_days=data["remind_unanswered_after_days"],
                default_currency=data["default_currency"],
                time_zone=data["timezone"] or None,
                locale=data["locale"],
                logo=data["logo"] or None,
                remove_logo=data["remove_logo"],
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
        {
            "form": form,
            "business": business,
            "logo_url": branding.logo_url(prefs.logo),
            "locale_now": locale_label(business.locale),
        },
        status=status,
    )
