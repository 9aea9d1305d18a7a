"""Dashboard SSO from Wix's signed ``instance`` parameter, and framing rules for ``/app/``.

Placed right after ``AuthenticationMiddleware`` so that the signed-in user and the chosen
business (``session["business_id"]``) are in place before ``CurrentBusinessMiddleware`` runs.

A browser already signed in as someone else is never switched silently: anyone can sign an
``instance`` for a site of their own and send its link (login CSRF — the victim would then type
their clients into the sender's business). Such a visit gets a page that asks, and only a
same-origin POST of that page (CSRF-checked) switches the session.
"""

from collections.abc import Callable

import structlog
from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render

from accounts.middleware import SESSION_BUSINESS_KEY
from accounts.models import Business
from integrations.sso import is_sso_account_of, sso_sign_in
from integrations.wix.sso import InstanceRefused, verify_instance

log = structlog.get_logger(__name__)

DASHBOARD_PREFIX = "/app/"
# Where the "switch account?" page posts its answer (handled here, before any view).
SWITCH_PATH = "/app/sso/switch"
_REFUSED_PAGE = (
    "<!doctype html><title>Sign-in refused</title>"
    "<p>This link is not valid any more. Open the app again from your Wix dashboard.</p>"
)


def frame_ancestors() -> str:
    return " ".join(["'self'", *settings.WIX_FRAME_ANCESTORS])


class WixInstanceSSOMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(DASHBOARD_PREFIX):
            return self.get_response(request)
        if request.path == SWITCH_PATH and request.method == "POST":
            response = self._confirm_switch(request)
        elif "instance" in request.GET:
            answered = self._sign_in(request, request.GET.get("instance"))
            if answered is not None:
                response = answered
            elif request.method in ("GET", "HEAD"):
                # Signed in: drop the signed value from the address bar, history and Referer.
                response = HttpResponseRedirect(self._without_instance(request))
            else:
                response = self.get_response(request)
        else:
            response = self.get_response(request)
        return self._allow_wix_framing(response)

    def _sign_in(
        self, request: HttpRequest, value: str | None, *, confirmed: bool = False
    ) -> HttpResponse | None:
        """None when signed in; else the answer (refused, or "switch account?")."""
        try:
            instance = verify_instance(
                value,
                secret=settings.WIX_APP_SECRET,
                max_age_seconds=settings.WIX_INSTANCE_MAX_AGE,
            )
            user, business = sso_sign_in(instance=instance)
        except InstanceRefused as exc:
            log.warning(
                "wix_sso_refused",
                reason=exc.reason,
                request_id=getattr(request, "request_id", None),
            )
            return HttpResponse(_REFUSED_PAGE, status=403)
        current = request.user
        # The same Wix user moving from the account made for them to the owner account they
        # were linked to since (integrations.sso.owner_account) is no switch to ask about.
        moved = is_sso_account_of(current, instance)
        if current.is_authenticated and current.pk != user.pk and not confirmed and not moved:
            return self._ask_to_switch(request, value or "", business=business)
        # login() rotates the session key (and flushes it when another user was signed in).
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        request.session[SESSION_BUSINESS_KEY] = business.pk
        log.info(
            "wix_sso_signed_in",
            business_id=business.pk,
            user_id=user.pk,
            request_id=getattr(request, "request_id", None),
        )
        return None

    @staticmethod
    def _ask_to_switch(request: HttpRequest, value: str, *, business: Business) -> HttpResponse:
        current_id = request.session.get(SESSION_BUSINESS_KEY)
        current_business = Business.objects.filter(pk=current_id).first() if current_id else None
        log.info(
            "wix_sso_switch_asked",
            user_id=request.user.pk,
            business_id=current_id,
            other_business_id=business.pk,
            request_id=getattr(request, "request_id", None),
        )
        response = render(
            request,
            "integrations/sso_switch.html",
            {
                "current_user": request.user,
                "current_business": current_business,
                "other_business": business,
                "instance": value,
                "switch_path": SWITCH_PATH,
            },
        )
        # The page carries a signed instance: never cached, never sent on as a Referer.
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response

    def _confirm_switch(self, request: HttpRequest) -> HttpResponse:
        # CsrfViewMiddleware checks views only; this answer is handled before any view (it is
        # the view here, and not a csrf_exempt one).
        csrf = CsrfViewMiddleware(self.get_response)
        rejected = csrf.process_view(request, self._confirm_switch, (), {})
        if rejected is not None:
            return rejected
        answered = self._sign_in(request, request.POST.get("instance"), confirmed=True)
        if answered is not None:
            return answered
        return HttpResponseRedirect(DASHBOARD_PREFIX, status=303)

    @staticmethod
    def _without_instance(request: HttpRequest) -> str:
        query = request.GET.copy()
        query.pop("instance", None)
        encoded = query.urlencode()
        return f"{request.path}?{encoded}" if encoded else request.path

    @staticmethod
    def _allow_wix_framing(response: HttpResponse) -> HttpResponse:
        # Wix (and only Wix) may frame the dashboard; X-Frame-Options cannot express that.
        if "X-Frame-Options" in response:
            del response["X-Frame-Options"]
        response.xframe_options_exempt = True
        directive = f"frame-ancestors {frame_ancestors()}"
        existing = response.get("Content-Security-Policy", "")
        kept = [p.strip() for p in existing.split(";") if p.strip()]
        kept = [p for p in kept if not p.startswith("frame-ancestors")]
        response["Content-Security-Policy"] = "; ".join([*kept, directive])
        return response
