"""The email service's tracking webhook (Mailgun), verified and parsed by django-anymail.

anymail's own view checks the signature (HMAC-SHA256 of timestamp + token with the webhook
signing key, and HTTP basic auth when ``ANYMAIL["WEBHOOK_SECRET"]`` is set) and turns the
payload into normalised ``AnymailTrackingEvent``s sent through its ``tracking`` signal; the
receiver below hands each to ``events.delivery_event_record``. What this module adds: a
payload anymail cannot read (a missing field, a wrong type, a non-ASCII timestamp) is a 400 like
a bad signature, never a 500; with no signing key configured the URL does not exist (404),
since an empty key would accept anyone's signature.

The signature never expires, so a captured request could be replayed forever: once anymail has
verified it, a request signed more than ``MAILGUN_WEBHOOK_MAX_AGE_SECONDS`` ago (or from too far
in the future) is refused, and so is a signature token already used within that window (kept
in the shared cache). A request we did not answer 2xx gives its token back: the service's retry
of it may carry the same signature.
"""

import hashlib
import json
import time

import structlog
from anymail.exceptions import AnymailConfigurationError, AnymailWebhookValidationFailure
from anymail.signals import tracking
from anymail.utils import get_anymail_setting
from anymail.webhooks.mailgun import MailgunTrackingWebhookView
from django.conf import settings
from django.core.cache import cache
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
# How far ahead of our clock a signature may be (the service's clock drifts too).
FUTURE_SKEW_SECONDS = 60
_SEEN_PREFIX = "mailgun-webhook-seen:"


class WebhookReplayed(AnymailWebhookValidationFailure):
    """Validly signed, but not fresh: signed too long ago or ahead, or its token used before."""

    def __init__(self, why: str, **facts) -> None:
        super().__init__(why)
        self.why = why
        self.facts = facts


def _signature_fields(request: HttpRequest) -> tuple[str, str]:
    """The token and timestamp anymail has just verified (where its validator read them)."""
    if request.content_type == "application/json":
        block = json.loads(request.body.decode("utf-8"))["signature"]
        return str(block["token"]), str(block["timestamp"])
    return request.POST["token"], request.POST["timestamp"]


def _claim_token(request: HttpRequest) -> str:
    """Refuse a stale or replayed request; else the cache key now holding its token."""
    token, timestamp = _signature_fields(request)
    age = time.time() - int(timestamp)
    window = settings.MAILGUN_WEBHOOK_MAX_AGE_SECONDS
    if age > window:
        raise WebhookReplayed("stale", age_seconds=int(age), max_age_seconds=window)
    if age < -FUTURE_SKEW_SECONDS:
        raise WebhookReplayed("future", ahead_seconds=int(-age))
    key = _SEEN_PREFIX + hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
    try:
        fresh = cache.add(key, 1, timeout=window + FUTURE_SKEW_SECONDS)
    except Exception as exc:  # a cache outage must not lose events: the age check still holds
        log.warning("email_webhook_replay_check_skipped", error=exc.__class__.__name__)
        return ""
    if not fresh:
        raise WebhookReplayed("token_reused")
    return key


def _give_back(key: str) -> None:
    if key:
        try:
            cache.delete(key)
        except Exception as exc:  # it expires with the window anyway
            log.warning("email_webhook_token_kept", error=exc.__class__.__name__)


class MailgunTrackingWebhook(MailgunTrackingWebhookView):
    """anymail's Mailgun tracking view; unreadable input answers 400, not 500; a replayed
    request is refused."""

    token_key = ""

    def run_validators(self, request) -> None:
        super().run_validators(request)  # anymail's: basic auth, then the signature
        # Only then: an unsigned request claims no token.
        self.token_key = _claim_token(request)

    def post(self, request, *args, **kwargs):
        try:
            self.run_validators(request)
        except WebhookReplayed as exc:
            log.warning("email_webhook_refused", esp=self.esp_name, why=exc.why, **exc.facts)
            return _refused(
                request,
                "This webhook was signed too long ago or was already received.",
                code="webhook_replayed",
            )
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
            _give_back(self.token_key)  # the service delivers it again, maybe signed the same
            return problem_response(
                request=request,
                status=409,
                code="delivery_in_progress",
                detail="The email is being sent right now; deliver this event again later.",
            )
        except BaseException:
            _give_back(self.token_key)  # a 500: the service retries
            raise
        return HttpResponse()


def _refused(request: HttpRequest, detail: str, *, code: str = "invalid_webhook") -> HttpResponse:
    return problem_response(request=request, status=400, code=code, detail=detail)


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
