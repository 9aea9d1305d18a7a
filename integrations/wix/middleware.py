"""Dashboard SSO from Wix's signed ``instance`` parameter, and framing rules for ``/app/``.

Placed right after ``AuthenticationMiddleware`` so that the signed-in user and the chosen
business (``session["business_id"]``) are in place before ``CurrentBusinessMiddleware`` runs.
"""

from collections.abc import Callable

import structlog
from django.conf import settings
from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from accounts.middleware import SESSION_BUSINESS_KEY
from integrations.sso import sso_sign_in
from integrations.wix.sso import InstanceRefused, verify_instance

log = structlog.get_logger(__name__)

DASHBOARD_PREFIX = "/app/"
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
        if "instance" in request.GET:
            refused = self._sign_in(request)
            if refused is not None:
                response = refused
            elif request.method in ("GET", "HEAD"):
                # Signed in: drop the signed value from the address bar, history and Referer.
                response = HttpResponseRedirect(self._without_instance(request))
            else:
                response = self.get_response(request)
        else:
            response = self.get_response(request)
        return self._allow_wix_framing(response)

    def _sign_in(self, request: HttpRequest) -> HttpResponse | None:
        try:
            instance = verify_instance(
                request.GET.get("instance"),
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
