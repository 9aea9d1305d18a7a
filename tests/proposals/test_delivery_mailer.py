"""The SMTP seam against real loopback servers: message content and error classification."""

import time

import pytest

from proposals.delivery import mailer
from proposals.models import Delivery, ProposalSettings
from tests.proposals.delivery_queue import proposal_delivery
from tests.proposals.smtp import free_port, point_email_at

pytestmark = pytest.mark.django_db


def test_client_email_is_branded_and_links_to_the_version(delivery_settings):
    delivery = proposal_delivery()
    ProposalSettings.objects.create(business=delivery.business, brand_name="Acme Studio")
    message = mailer.build_message(delivery)
    link = f"https://proposals.example.test/p/{delivery.version.token}"
    html = message.alternatives[0][0]
    assert link in message.body and link in html
    assert "Acme Studio" in message.subject and "Acme Studio" in message.body
    assert "Acme Studio" in html
    assert message.from_email.startswith("Acme Studio via Proposals")
    assert message.to == [delivery.recipient]
    assert message.reply_to == [delivery.business.owner_email]


def test_message_id_is_stable_per_delivery(delivery_settings):
    delivery = proposal_delivery()
    first = mailer.message_id_for(delivery)
    assert first == mailer.message_id_for(Delivery.objects.get(pk=delivery.pk))
    assert first.startswith(f"<delivery.{delivery.pk}.") and first.endswith("@localhost>")
    assert mailer.build_message(delivery).extra_headers["Message-ID"] == first


def test_owner_email_links_to_the_dashboard(delivery_settings):
    delivery = proposal_delivery()
    delivery.kind = Delivery.Kind.OWNER_VIEWED
    message = mailer.build_message(delivery)
    assert f"/app/proposals/{delivery.proposal_id}/" in message.body
    assert "opened" in message.subject


def test_sending_puts_the_message_on_the_wire(smtp_server):
    delivery = proposal_delivery()
    result = mailer.send(delivery)
    [received] = smtp_server.received
    assert received.recipients == [delivery.recipient]
    assert f"Message-ID: {result.message_id}" in received.text
    assert "text/html" in received.text and "text/plain" in received.text


def test_mailbox_unknown_at_rcpt_is_permanent_with_a_human_reason(smtp_server):
    smtp_server.rcpt_script = ["550 5.1.1 No such user"]
    with pytest.raises(mailer.DeliveryError) as caught:
        mailer.send(proposal_delivery())
    assert caught.value.permanent is True
    assert caught.value.smtp_code == 550
    assert caught.value.message == "mailbox does not exist"
    assert "No such user" in caught.value.smtp_message


@pytest.mark.parametrize("answer", ["421 4.3.2 Try later", "451 4.3.0 Local error"])
def test_4xx_at_data_is_transient(smtp_server, answer):
    smtp_server.data_script = [answer]
    with pytest.raises(mailer.DeliveryError) as caught:
        mailer.send(proposal_delivery())
    assert caught.value.permanent is False
    assert caught.value.smtp_code == int(answer[:3])
    assert smtp_server.received == []


def test_5xx_at_data_is_permanent(smtp_server):
    smtp_server.data_script = ["554 5.7.1 Rejected as spam"]
    with pytest.raises(mailer.DeliveryError) as caught:
        mailer.send(proposal_delivery())
    assert caught.value.permanent is True
    assert caught.value.message == "message rejected by the mail server"


def test_a_silent_server_times_out_within_email_timeout(silent_smtp_server, settings):
    started = time.monotonic()
    with pytest.raises(mailer.DeliveryError) as caught:
        mailer.send(proposal_delivery())
    assert time.monotonic() - started < settings.EMAIL_TIMEOUT + 1
    assert caught.value.permanent is False
    assert "did not answer" in caught.value.message


def test_the_whole_send_has_a_deadline(smtp_server, settings):
    # Each read finishes within EMAIL_TIMEOUT, but the server stalls DATA for longer than the
    # total deadline: the send is cut at the deadline.
    settings.EMAIL_TIMEOUT = 5.0
    settings.DELIVERY_SEND_DEADLINE_SECONDS = 0.5
    smtp_server.data_script = ["stall:3"]
    started = time.monotonic()
    with pytest.raises(mailer.DeliveryError) as caught:
        mailer.send(proposal_delivery())
    assert time.monotonic() - started < 2
    assert caught.value.permanent is False
    assert "did not finish within" in caught.value.message


def test_connection_refused_is_transient(delivery_settings):
    point_email_at(delivery_settings, free_port())
    with pytest.raises(mailer.DeliveryError) as caught:
        mailer.send(proposal_delivery())
    assert caught.value.permanent is False
    assert caught.value.message == "could not connect to the mail server"


def test_an_invalid_address_is_permanent_without_a_connection(silent_smtp_server):
    delivery = proposal_delivery()
    delivery.recipient = "not an address"
    with pytest.raises(mailer.DeliveryError) as caught:
        mailer.send(delivery)
    assert caught.value.permanent is True
    assert caught.value.message == "invalid email address"
    assert silent_smtp_server.connections == []


def test_a_brand_name_saved_with_a_line_break_still_builds_a_sendable_email(delivery_settings):
    """A row saved before names were cleaned on save: the email goes out, on one line."""
    delivery = proposal_delivery()
    ProposalSettings.objects.create(business=delivery.business, brand_name="Acme\r\nStudio")
    message = mailer.build_message(delivery)
    assert message.from_email.startswith("Acme Studio via Proposals")
    assert "\n" not in message.subject and "Acme Studio" in message.subject
    message.message()  # every header can be encoded (this raised BadHeaderError)


def test_a_title_and_client_name_with_line_breaks_still_build_sendable_emails(delivery_settings):
    """Neither is cleaned when saved; both reach subjects (the client's email, the owner's)."""
    from email import message_from_bytes
    from email.header import decode_header, make_header

    from tests.proposals.factories import ClientFactory, make_sent_proposal

    customer = ClientFactory(name="Ada\r\nLovelace")
    _, version = make_sent_proposal(client=customer, title="Kitchen\r\nBcc: victim@example.com")
    delivery = Delivery.objects.get(version=version, kind=Delivery.Kind.PROPOSAL)
    message = mailer.build_message(delivery)
    assert "\n" not in message.subject and "\r" not in message.subject
    assert "Kitchen Bcc: victim@example.com" in message.subject
    sent = message_from_bytes(message.message().as_bytes())
    assert sent["Bcc"] is None and "Kitchen Bcc" in str(make_header(decode_header(sent["Subject"])))
    delivery.kind = Delivery.Kind.OWNER_ACCEPTED
    owner_message = mailer.build_message(delivery)
    assert owner_message.subject.startswith("Ada Lovelace accepted proposal")
    owner_message.message()


def test_a_header_that_cannot_be_built_is_reported_as_that_not_as_a_bad_address():
    from django.core.mail import BadHeaderError

    error = mailer.classify(BadHeaderError("Header values can't contain newlines"))
    assert error.permanent
    assert "header" in error.message
    assert "address" not in error.message
