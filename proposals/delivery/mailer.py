"""The one SMTP seam: build a delivery's email and send it, with typed, classified errors.

Every socket operation is bounded by ``EMAIL_TIMEOUT`` (connect and each read) and the whole
send by ``DELIVERY_SEND_DEADLINE_SECONDS``. ``DeliveryError.permanent`` says whether retrying
can help: the recipient's server refusing the message (5xx, an invalid address) cannot; an
unreachable, slow or busy server (4xx, timeouts, dropped connections) can.

The email itself is built in ``message``; ``failures`` classifies what went wrong.
"""

import smtplib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend
from django.core.validators import validate_email

from proposals.delivery.failures import SERVICE_UNAVAILABLE, DeliveryError, classify
from proposals.delivery.message import build_message, message_id_for
from proposals.models import Delivery

# What the pipeline and the tests import from here (``SendResult`` and ``SMTP_BACKEND`` too).
__all__ = [
    "Connection",
    "DeliveryError",
    "build_message",
    "classify",
    "message_id_for",
    "send",
]

log = structlog.get_logger(__name__)

SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"


@dataclass(frozen=True)
class SendResult:
    # Our Message-ID over SMTP; the email service's own id through anymail.
    message_id: str
    smtp_code: int | None = 250


class _Backend(EmailBackend):
    """Django's SMTP backend; closing never fails a send that the server already accepted."""

    # Django's own (the connection while it is being opened), which the stubs do not declare.
    _partial_connection: smtplib.SMTP | None

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
        self._armed: tuple[float, Callable[[], object]] | None = None
        self._closed = threading.Event()
        self.fired = False
        self._thread = threading.Thread(target=self._run, daemon=True, name="smtp-deadline")
        self._thread.start()

    def arm(self, seconds: float, action: Callable[[], object]) -> None:
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
    messages per session). Each send keeps its own deadline. ``consecutive_unavailable``
    tells the caller when the server cannot take mail at all: sends in a row whose connection
    could not be opened, or that the server answered ``421`` (service not available, closing
    the channel — about the server, not the recipient).
    """

    def __init__(self) -> None:
        self.backend: _Backend | None = None
        self.sent_on_connection = 0
        self.connections_opened = 0
        self.consecutive_unavailable = 0
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
                connecting = False
            backend.send_messages([message])
        except Exception as exc:
            self.close()  # the session's state is unknown: the next message gets a new one
            watchdog.disarm()
            error = classify(exc)
            if connecting or error.smtp_code == SERVICE_UNAVAILABLE:
                self.consecutive_unavailable += 1
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
        self.consecutive_unavailable = 0
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
