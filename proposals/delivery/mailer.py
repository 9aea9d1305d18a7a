"""The one SMTP seam: build a delivery's email and send it, with typed, classified errors.

Every socket operation is bounded by ``EMAIL_TIMEOUT`` (connect and each read) and the whole
send by ``DELIVERY_SEND_DEADLINE_SECONDS``. ``DeliveryError.permanent`` says whether retrying
can help: the recipient's server refusing the message (5xx, an invalid address) cannot; an
unreachable, slow or busy server (4xx, timeouts, dropped connections) can.
"""

import hashlib
import smtplib
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from datetime import date
from email.utils import formataddr, parseaddr

import structlog
from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import BadHeaderError, EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend
from django.core.validators import validate_email
from django.template.loader import render_to_string

from common.money import in_locale_of
from common.text import one_line
from proposals import branding
from proposals.models import Delivery, ProposalSettings

log = structlog.get_logger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"

# Emails to the business's client carry the link to the proposal page.
CLIENT_KINDS = frozenset(
    {
        Delivery.Kind.PROPOSAL,
        Delivery.Kind.REMINDER,
        Delivery.Kind.ACCEPTANCE_CONFIRMATION,
        Delivery.Kind.CLIENT_WITHDRAWN,
    }
)

SUBJECTS = {
    Delivery.Kind.PROPOSAL: "{business}: proposal {number} — {title}",
    Delivery.Kind.REMINDER: "Reminder from {business}: proposal {number} — {title}",
    Delivery.Kind.ACCEPTANCE_CONFIRMATION: "You accepted proposal {number} from {business}",
    Delivery.Kind.OWNER_VIEWED: "{client} opened proposal {number}",
    Delivery.Kind.OWNER_ACCEPTED: "{client} accepted proposal {number}",
    Delivery.Kind.OWNER_DECLINED: "{client} declined proposal {number}",
    Delivery.Kind.OWNER_EXPIRED: "Proposal {number} to {client} expired unanswered",
    Delivery.Kind.CLIENT_WITHDRAWN: "{business} withdrew proposal {number} — {title}",
}
# A version sent after the first says so from the subject on.
REVISED_PROPOSAL_SUBJECT = "{business}: revised proposal {number} (version {version}) — {title}"

# What the business reads on its timeline for the common SMTP replies.
SMTP_REASONS = {
    421: "mail server temporarily unavailable",
    450: "mailbox temporarily unavailable",
    451: "mail server error, will retry",
    452: "mail server out of storage",
    550: "mailbox does not exist",
    551: "recipient not accepted by this server",
    552: "mailbox full or message too large",
    553: "mailbox name not allowed",
    554: "message rejected by the mail server",
}


class DeliveryError(Exception):
    """A send that failed; ``permanent`` means retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool, smtp_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.smtp_code = smtp_code
        self.smtp_message = ""

    def __repr__(self) -> str:
        return f"DeliveryError({self.message!r}, permanent={self.permanent}, code={self.smtp_code})"


@dataclass(frozen=True)
class SendResult:
    # Our Message-ID over SMTP; the email service's own id through anymail.
    message_id: str
    smtp_code: int | None = 250


def message_id_for(delivery: Delivery) -> str:
    """Stable per delivery: a retry carries the same id, so receivers can drop a duplicate."""
    digest = hashlib.sha256(delivery.idempotency_key.encode()).hexdigest()[:20]
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    domain = address.rpartition("@")[2] or "localhost"
    return f"<delivery.{delivery.pk}.{digest}@{domain}>"


def _brand(delivery: Delivery) -> tuple[str, str, str]:
    """The business's name, colour and logo address as its emails show them."""
    business = delivery.business
    try:
        prefs = business.proposal_settings
    except ProposalSettings.DoesNotExist:
        prefs = None
    name = (prefs.brand_name if prefs else "") or business.site_name or "Your business"
    color = prefs.brand_color if prefs else "#116dff"
    return name, color, branding.logo_url(prefs.logo if prefs else "", absolute=True)


def _date_or_none(value: object) -> date | None:
    try:
        return date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


# Amounts in the email as the business writes them (common.money), wherever it is built.
@in_locale_of(lambda delivery: delivery.business.locale)
def build_message(delivery: Delivery) -> EmailMultiAlternatives:
    """The email for a delivery: subject, text and HTML, branded with the business name."""
    proposal = delivery.proposal
    version = delivery.version or (proposal.current_version if proposal else None)
    business_name, brand_color, logo_url = _brand(delivery)
    client = proposal.client if proposal else None
    if delivery.kind in CLIENT_KINDS:
        link = f"{settings.SITE_URL}/p/{version.token}" if version else settings.SITE_URL
    else:
        link = (
            f"{settings.SITE_URL}/app/proposals/{proposal.pk}/" if proposal else settings.SITE_URL
        )
    sent = version.snapshot if version else {}
    context = {
        # What the client was sent (the version's), not the working copy edited since.
        "title": sent.get("title") or (proposal.title if proposal else ""),
        "valid_until": _date_or_none(sent.get("valid_until")) if version else None,
        "delivery": delivery,
        "business_name": business_name,
        "brand_color": brand_color,
        "logo_url": logo_url,
        "proposal": proposal,
        "version": version,
        "client_name": client.name if client else "",
        "link": link,
        "personal_message": version.message if version else "",
        "extra": delivery.context or {},
    }
    subject = SUBJECTS.get(delivery.kind, "{business}: {title}")
    if delivery.kind == Delivery.Kind.PROPOSAL and version is not None and version.number > 1:
        subject = REVISED_PROPOSAL_SUBJECT
    subject = subject.format(
        version=version.number if version else "",
        business=business_name,
        number=proposal.display_number if proposal else "",
        title=context["title"],
        client=context["client_name"] or "Your client",
    )
    from_name, from_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    # Names saved before they were cleaned on save (or from Wix) still reach headers: one line.
    display = (
        one_line(f"{business_name} via {from_name}") if delivery.kind in CLIENT_KINDS else from_name
    )
    headers = {"Message-ID": delivery.message_id or message_id_for(delivery)}
    reply_to = []
    if delivery.kind in CLIENT_KINDS and delivery.business.owner_email:
        reply_to = [delivery.business.owner_email]
    message = EmailMultiAlternatives(
        subject=one_line(subject),
        body=render_to_string(f"emails/{delivery.kind}.txt", context),
        from_email=formataddr((display, from_address)),
        to=[delivery.recipient],
        reply_to=reply_to,
        headers=headers,
    )
    message.attach_alternative(
        render_to_string(f"emails/{delivery.kind}.html", context), "text/html"
    )
    return message


class _Backend(EmailBackend):
    """Django's SMTP backend; closing never fails a send that the server already accepted."""

    def close(self) -> None:
        try:
            super().close()
        except (OSError, smtplib.SMTPException):
            for conn in (self.connection, self._partial_connection):
                if conn is not None:
                    conn.close()
            self.connection = None
            self._partial_connection = None

    def abort(self) -> None:
        """Called from the deadline timer: unblock whatever read the sender is stuck in."""
        for conn in (self._partial_connection, self.connection):
            sock = getattr(conn, "sock", None)
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def send(delivery: Delivery) -> SendResult:
    """Send the delivery's email once, on a connection of its own. Raises ``DeliveryError``."""
    with Connection() as connection:
        return connection.send(delivery)


class _Watchdog:
    """One thread per connection that enforces each send's deadline.

    A timer thread per message cost more than the send itself on a busy machine; this one
    thread looks a few times a second, and arming or disarming it is two attribute writes
    (no lock, no wake-up), so a deadline fires up to ``TICK`` seconds late.
    """

    TICK = 0.2

    def __init__(self) -> None:
        self._armed: tuple[float, object] | None = None
        self._closed = threading.Event()
        self.fired = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="smtp-deadline")
        self._thread.start()

    def arm(self, seconds: float, action) -> None:
        self.fired = False
        self._armed = (time.monotonic() + seconds, action)

    def disarm(self) -> None:
        self._armed = None

    def close(self) -> None:
        self._closed.set()

    def _run(self) -> None:
        while not self._closed.wait(self.TICK):
            armed = self._armed
            if armed is not None and time.monotonic() >= armed[0]:
                self._armed = None
                self.fired = True
                armed[1]()


class Connection:
    """One SMTP connection reused across a batch of sends.

    A new connection is opened for the first message, after any error (the session's state is
    unknown then), and after ``DELIVERY_SMTP_MAX_PER_CONNECTION`` messages (servers limit the
    messages per session). Each send keeps its own deadline. ``consecutive_connect_failures``
    tells the caller when the server cannot be reached at all.
    """

    def __init__(self) -> None:
        self.backend: _Backend | None = None
        self.sent_on_connection = 0
        self.connections_opened = 0
        self.consecutive_connect_failures = 0
        self._watchdog: _Watchdog | None = None

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
        if self._watchdog is not None:
            self._watchdog.close()
            self._watchdog = None

    def close(self) -> None:
        if self.backend is not None:
            self.backend.close()
        self.backend = None
        self.sent_on_connection = 0

    def __del__(self) -> None:
        if self._watchdog is not None:
            self._watchdog.close()

    def send(self, delivery: Delivery) -> SendResult:
        """Send one delivery's email. Raises ``DeliveryError``; the connection survives that."""
        try:
            validate_email(delivery.recipient)
        except ValidationError:
            raise DeliveryError("invalid email address", permanent=True) from None
        try:
            message = build_message(delivery)
        except Exception as exc:  # a template or data error: this message only, not the batch
            log.exception("delivery_build_failed", delivery_id=delivery.pk)
            raise classify(exc) from exc
        if settings.EMAIL_BACKEND != SMTP_BACKEND:
            # An email service through django-anymail (its HTTP calls bounded by ANYMAIL's
            # REQUESTS_TIMEOUT, from EMAIL_TIMEOUT), or development's console / file / locmem.
            try:
                get_connection(fail_silently=False).send_messages([message])
            except Exception as exc:
                raise classify(exc) from exc
            return SendResult(message_id=provider_message_id(message), smtp_code=None)
        if self.sent_on_connection >= settings.DELIVERY_SMTP_MAX_PER_CONNECTION:
            self.close()
        if self.backend is None:
            self.backend = _Backend(timeout=settings.EMAIL_TIMEOUT, fail_silently=False)
        backend = self.backend
        if self._watchdog is None:
            self._watchdog = _Watchdog()
        watchdog = self._watchdog
        watchdog.arm(settings.DELIVERY_SEND_DEADLINE_SECONDS, backend.abort)
        connecting = backend.connection is None
        try:
            if connecting:
                backend.open()
                self.connections_opened += 1
                self.consecutive_connect_failures = 0
                connecting = False
            backend.send_messages([message])
        except Exception as exc:
            if connecting:
                self.consecutive_connect_failures += 1
            self.close()  # the session's state is unknown: the next message gets a new one
            watchdog.disarm()
            error = classify(exc)
            if watchdog.fired and not error.permanent:
                error = DeliveryError(
                    "mail server did not finish within "
                    f"{settings.DELIVERY_SEND_DEADLINE_SECONDS:g}s",
                    permanent=False,
                )
            raise error from exc
        finally:
            watchdog.disarm()
        self.sent_on_connection += 1
        return SendResult(message_id=message.extra_headers["Message-ID"])


def provider_message_id(message: EmailMultiAlternatives) -> str:
    """The id the mail service's webhooks will name this message by.

    anymail sets ``anymail_status.message_id`` to the service's own id once it accepted the
    message; other backends (and a service that did not say) keep our Message-ID.
    """
    status = getattr(message, "anymail_status", None)
    message_id = getattr(status, "message_id", None) if status is not None else None
    if isinstance(message_id, str) and message_id:
        return message_id[:255]
    return message.extra_headers["Message-ID"]


def _reason(code: int) -> str:
    known = SMTP_REASONS.get(code)
    if known:
        return known
    if code >= 500:
        return "rejected by the mail server"
    return "mail server asked to try again later"


def _decode(raw: bytes | str) -> str:
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    return text[:500]


def _classify_anymail(exc: AnymailError) -> DeliveryError:
    """An email service's refusal: permanent only when it is about this message."""
    if isinstance(exc, AnymailRecipientsRefused):
        return DeliveryError("recipient refused by the email service", permanent=True)
    if isinstance(exc, AnymailInvalidAddress):
        return DeliveryError("invalid email address", permanent=True)
    status = getattr(exc, "status_code", None)
    if status is None:
        return DeliveryError("email service could not be reached", permanent=False)
    if status in (401, 403):
        # About our account, never this recipient: fixing the settings lets it go out.
        error = DeliveryError("email service rejected our credentials", permanent=False)
    elif status == 429 or status >= 500:
        error = DeliveryError(f"email service busy (HTTP {status})", permanent=False)
    elif 400 <= status < 500:
        error = DeliveryError(f"email service refused the message (HTTP {status})", permanent=True)
    else:
        error = DeliveryError(
            f"unexpected answer from the email service (HTTP {status})", permanent=False
        )
    return error


def classify(exc: BaseException) -> DeliveryError:
    """Turn whatever the SMTP stack or the email service raised into a typed ``DeliveryError``."""
    if isinstance(exc, DeliveryError):
        return exc
    if isinstance(exc, AnymailError):
        return _classify_anymail(exc)
    if isinstance(exc, AnymailConfigurationError):
        return DeliveryError("email service is not configured", permanent=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, raw = next(iter(exc.recipients.values()), (None, b""))
        code = int(code) if code is not None else None
        permanent = code is not None and code >= 500
        error = DeliveryError(
            _reason(code) if code else "recipient refused", permanent=permanent, smtp_code=code
        )
        error.smtp_message = _decode(raw)
        return error
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPConnectError):
        # About our account on, or our way to, the mail server — never about this recipient:
        # fixing the configuration or waiting lets the same email go out.
        what = "credentials" if isinstance(exc, smtplib.SMTPAuthenticationError) else "connection"
        error = DeliveryError(
            f"mail server rejected our {what}", permanent=False, smtp_code=exc.smtp_code
        )
        error.smtp_message = _decode(exc.smtp_error)
        return error
    if isinstance(exc, smtplib.SMTPResponseException):
        code = int(exc.smtp_code) if exc.smtp_code and exc.smtp_code > 0 else None
        permanent = code is not None and 500 <= code < 600
        reason = _reason(code) if code else "unexpected answer from the mail server"
        error = DeliveryError(reason, permanent=permanent, smtp_code=code)
        error.smtp_message = _decode(exc.smtp_error)
        return error
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        # smtplib reports a read timeout as a disconnection; the timeout is its context.
        if isinstance(exc.__context__, TimeoutError) or "timed out" in str(exc):
            return classify(TimeoutError())
        return DeliveryError("mail server closed the connection", permanent=False)
    if isinstance(exc, TimeoutError | socket.timeout):
        return DeliveryError(
            f"mail server did not answer within {settings.EMAIL_TIMEOUT:g}s", permanent=False
        )
    if isinstance(exc, ConnectionRefusedError):
        return DeliveryError("could not connect to the mail server", permanent=False)
    if isinstance(exc, ssl.SSLError):
        return DeliveryError("TLS error talking to the mail server", permanent=False)
    if isinstance(exc, OSError | smtplib.SMTPException):
        return DeliveryError(
            f"mail server connection failed ({exc.__class__.__name__})", permanent=False
        )
    if isinstance(exc, BadHeaderError):
        # A header value with a line break (a name or subject): the email cannot be built.
        return DeliveryError(f"an email header could not be built: {exc}", permanent=True)
    if isinstance(exc, ValueError | UnicodeError):
        # Raised while encoding the address headers: the address itself is unusable.
        return DeliveryError("invalid email address", permanent=True)
    return DeliveryError(f"unexpected error ({exc.__class__.__name__})", permanent=False)
