"""What a failed send means: whatever the SMTP stack or the email service raised, as a
``DeliveryError`` whose ``permanent`` says whether retrying can help, with the reason the
business reads."""

import smtplib
import socket
import ssl

from anymail.exceptions import (
    AnymailConfigurationError,
    AnymailError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from django.conf import settings
from django.core.mail import BadHeaderError

# "Service not available, closing transmission channel" (RFC 5321): the server, not the
# recipient, cannot take mail now, so the rest of a batch waits instead of trying one by one.
SERVICE_UNAVAILABLE = 421

# What the business reads on its timeline for the common SMTP replies.
SMTP_REASONS = {
    SERVICE_UNAVAILABLE: "mail server temporarily unavailable",
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
