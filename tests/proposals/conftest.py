# Loopback SMTP servers for the delivery tests (tests/proposals/smtp.py).
from tests.proposals.smtp import delivery_settings, silent_smtp_server, smtp_server

__all__ = ["delivery_settings", "silent_smtp_server", "smtp_server"]
