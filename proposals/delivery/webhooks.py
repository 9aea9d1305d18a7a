"""The email service's tracking webhook (Mailgun), verified and parsed by django-anymail.

anymail's own view checks the signature (HMAC-SHA256 of timestamp + token with the webhook
signing key, and HTTP basic auth when ``ANYMAIL["WEBHOOK_SECRET"]`` is set) and turns the
payload into normalised ``AnymailTrackingEvent``s sent through its ``tracking`` signal; the
receiver below hands each to ``events.delivery_event_record``. What this module adds: a
payload anymail cannot read (a missing field, a wrong type, a non-ASCII timestamp) is a 400 like
a bad signature, never a 500; with no signing key configured the URL does not exist (404),
since an empty key would accept anyone's signature.
"""

import structlog
from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.signals import tracking
from anymail.utils import get_anymail_setting
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from common.problems import problem_response
from proposals.delivery import events

log = structlog.get_logger(__name__)

# What anymail's parsing raises on a payload of the wrong shape.
_MALFORMED = (
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
    UnicodeError,
    OverflowError,  # a timestamp past what a datetime holds
    OSError,
)


class MailgunTrackingWebhook(MailgunTrackingWebhookView):
    """anymail's Mailgun tracking view; unreadable input answers 400, not 500."""

    def post(self, request, *args, **kwargs):
        try:
            self.run_validators(request)
        except AnymailWebhookValidationFailure:
            log.warning("email_webhook_refused", esp=self.esp_name, why="signature")
            return _refused(request, "The webhook signature is missing or wrong.")
        except _MALFORMED as exc:
            log.warning("email_webhook_refused", esp=self.esp_name, why=exc.__class__.__name__)
            return _refused(request, "The webhook payload could not be read.")
        try:
            parsed = self.parse_events(request)
        except (AnymailConfigurationError, *_MALFORMED) as exc:
            # Signed by the service but not a tracking event we can read (an inbound route
            # pointed here, a field of the wrong type): the service should not retry it.
            log.warning("email_webhook_refused", esp=self.esp_name, why=exc.__class__.__name__)
            return _refused(request, "The webhook payload is not a tracking event.")
        try:
            for event in parsed:
                self.signal.send(sender=self.__class__, event=event, esp_name=self.esp_name)
        except events.EventTooEarly:
            return problem_response(
                request=request,
                status=409,
                code="delivery_in_progress",
                detail="The email is being sent right now; deliver this event again later.",
            )
        return HttpResponse()


def _refused(request: HttpRequest, detail: str) -> HttpResponse:
    return problem_response(request=request, status=400, code="invalid_webhook", detail=detail)


def _signing_key() -> str:
    try:
        key = get_anymail_setting("webhook_signing_key", esp_name="Mailgun", default="")
    except AnymailConfigurationError:
        return ""
    return key if isinstance(key, str) else ""


_mailgun_view = MailgunTrackingWebhook.as_view()


@csrf_exempt
def mailgun_tracking(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    if not _signing_key():
        return problem_response(
            request=request,
            status=404,
            detail="No email service webhook is configured (MAILGUN_WEBHOOK_SIGNING_KEY).",
        )
    return _mailgun_view(request, *args, **kwargs)


def _on_tracking(sender, event, esp_name, **kwargs) -> None:
    outcome = events.delivery_event_record(esp=esp_name, event=event)
    log.info("email_webhook_event", esp=esp_name, outcome=outcome)


tracking.connect(_on_tracking, sender=MailgunTrackingWebhook, dispatch_uid="delivery_tracking")
