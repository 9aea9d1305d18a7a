"""manage.py chaos: the SMTP server's switchable faults, how emails are counted, the targets."""

import shutil
import smtplib
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from django.core.management.base import CommandError

from common import benchkit
from common.smtp_sink import Behaviour, Control, Sink, client_links, write_control
from console.chaos import measure, report
from console.chaos.bounces import URL as BOUNCE_URL
from console.chaos.bounces import signed_bounce
from console.chaos.faults import Fault
from console.chaos.postgres import OwnPostgres, find_bin_dir
from console.chaos.run import PhaseResult, Run
from console.management.commands.chaos import command_line, parse_duration, presets
from proposals.delivery.mailer import message_id_for
from proposals.models import Delivery
from tests.accounts.factories import BusinessFactory
from tests.proposals.mailgun import SIGNING_KEY, mailgun_webhooks  # noqa: F401 - a fixture


# --- the SMTP server ------------------------------------------------------------------------------
@pytest.fixture
def smtp_server(tmp_path):
    control_path = tmp_path / "control.json"
    out = open(tmp_path / "accepted.tsv", "a", buffering=1)
    events = open(tmp_path / "events.tsv", "a", buffering=1)
    links = open(tmp_path / "links.tsv", "a", buffering=1)
    sink = Sink(out, control=Control(str(control_path)), events=events, links=links)
    port = benchkit.free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, control_path, tmp_path
    controller.stop()
    for handle in (out, events, links):
        handle.close()


def _send(port: int, recipient: str, number: int) -> None:
    message = EmailMessage()
    message["From"] = "proposals@example.com"
    message["To"] = recipient
    message["Subject"] = "A proposal"
    message["Message-ID"] = f"<m{number}@example.com>"
    message.set_content(f"Open http://127.0.0.1:8000/p/tok{number}abcdefgh to read it. Café.")
    with smtplib.SMTP("127.0.0.1", port, timeout=2) as smtp:
        smtp.send_message(message)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def test_accepted_messages_are_logged_with_their_message_id_and_client_link(smtp_server):
    port, _, tmp = smtp_server
    _send(port, "a@example.com", 1)
    accepted = _lines(tmp / "accepted.tsv")
    assert [line.split("\t")[1:] for line in accepted] == [["<m1@example.com>", "a@example.com"]]
    assert _lines(tmp / "links.tsv") == ["<m1@example.com>\thttp://127.0.0.1:8000/p/tok1abcdefgh"]


def test_a_421_refuses_the_recipient_and_logs_nothing_as_accepted(smtp_server):
    port, control, tmp = smtp_server
    write_control(str(control), mode="421")
    with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
        _send(port, "a@example.com", 1)
    assert refused.value.recipients["a@example.com"][0] == 421
    assert _lines(tmp / "accepted.tsv") == []
    assert _lines(tmp / "events.tsv")[0].split("\t")[1:] == ["421", "", "a@example.com"]
    write_control(str(control), mode="accept")
    _send(port, "a@example.com", 1)
    assert len(_lines(tmp / "accepted.tsv")) == 1


def test_a_550_refuses_the_same_addresses_every_time():
    behaviour = Behaviour(mode="550", rate=0.3)
    addresses = [f"client-{i}@example.com" for i in range(400)]
    refused = {a for a in addresses if behaviour.refuses_address(a)}
    assert 80 < len(refused) < 160  # about 30%
    assert refused == {a for a in addresses if behaviour.refuses_address(a.upper())}


def test_a_dropped_connection_is_never_logged_as_accepted(smtp_server):
    port, control, tmp = smtp_server
    write_control(str(control), mode="drop")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        _send(port, "a@example.com", 1)
    assert _lines(tmp / "accepted.tsv") == []
    assert _lines(tmp / "events.tsv")[0].split("\t")[1] == "drop"


def test_a_hang_answers_nothing_until_the_mode_changes(smtp_server):
    port, control, tmp = smtp_server
    write_control(str(control), mode="hang")
    started = time.monotonic()
    with pytest.raises((smtplib.SMTPServerDisconnected, TimeoutError)):
        _send(port, "a@example.com", 1)
    assert time.monotonic() - started >= 1.9  # the client's own 2 s timeout cut it
    assert _lines(tmp / "accepted.tsv") == []


def test_an_unknown_mode_is_refused_before_the_server_sees_it(tmp_path):
    with pytest.raises(ValueError, match="unknown mode"):
        write_control(str(tmp_path / "c.json"), mode="explode")
    assert not (tmp_path / "c.json").exists()


def test_links_are_read_from_quoted_printable_text():
    message = EmailMessage()
    message.set_content("é " * 40 + "http://h:1/p/" + "x" * 70, cte="quoted-printable")
    assert client_links(message.as_bytes()) == ["http://h:1/p/" + "x" * 70]


# --- counting emails ------------------------------------------------------------------------------
def _delivery(business, number: int, state: str, error: str = "") -> Delivery:
    return Delivery.objects.create(
        business=business,
        kind=Delivery.Kind.OWNER_VIEWED,
        recipient=f"r{number}@example.com",
        idempotency_key=f"chaos-test-{number}",
        state=state,
        last_error=error,
    )


@pytest.mark.django_db
def test_emails_are_counted_received_lost_failed_and_duplicated_by_message_id():
    business = BusinessFactory()
    received = _delivery(business, 1, Delivery.State.SENT)
    twice = _delivery(business, 2, Delivery.State.SENT)
    _delivery(business, 3, Delivery.State.SENT)  # marked sent, never reached the server
    _delivery(business, 4, Delivery.State.FAILED_RETRYING)  # still waiting: queued, not lost
    _delivery(business, 5, Delivery.State.FAILED_PERMANENT, "mailbox does not exist")
    _delivery(business, 6, Delivery.State.FAILED_PERMANENT)  # no reason shown
    _delivery(business, 7, Delivery.State.CANCELLED)
    arrivals = {message_id_for(received): [1.0], message_id_for(twice): [2.0, 3.0]}
    count = measure.count_emails(
        business_ids=[business.pk], arrivals=lambda: arrivals, kill_times=[]
    )
    assert (count.expected, count.received, count.lost, count.failed) == (6, 2, 1, 2)
    assert count.queued == 1 and measure.lost_cell(count) == "1 (+1 still queued)"
    assert (count.duplicates, count.allowed_repeats, count.failed_without_reason) == (1, 0, 1)
    assert count.failed_reasons == {"mailbox does not exist": 1, "(none)": 1}


@pytest.mark.django_db
def test_a_repeat_is_allowed_only_when_a_kill_falls_between_its_two_arrivals():
    business = BusinessFactory()
    straddled = _delivery(business, 1, Delivery.State.SENT)
    after = _delivery(business, 2, Delivery.State.SENT)
    thrice = _delivery(business, 3, Delivery.State.SENT)
    arrivals = {
        message_id_for(straddled): [1.0, 5.0],
        message_id_for(after): [6.0, 7.0],  # both after the kill: a real duplicate
        message_id_for(thrice): [1.0, 5.0, 6.0],
    }
    count = measure.count_emails(
        business_ids=[business.pk], arrivals=lambda: arrivals, kill_times=[3.0]
    )
    assert count.allowed_repeats == 1
    assert count.duplicates == 1 + 2


def test_the_sink_log_is_read_as_arrivals_per_message_id(tmp_path):
    log = tmp_path / "accepted.tsv"
    log.write_text("1.5\t<a>\tx@y\n2.5\t<a>\tx@y\n3.0\t<b>\tz@y\n4.0\t<torn")
    assert measure.accepted_by_server(log) == {"<a>": [1.5, 2.5], "<b>": [3.0]}


# --- targets --------------------------------------------------------------------------------------
def _result(name: str, **fields) -> PhaseResult:
    result = PhaseResult(name=name, what="", recovery_seconds=10.0)
    for key, value in fields.items():
        setattr(result, key, value)
    return result


def test_a_clean_run_meets_every_target():
    results = [_result("baseline", wix_rate=4.0), _result("Wix outage", wix_rate=0.5)]
    assert report.all_met(results)


def test_each_target_fails_on_its_own_figure():
    lost = measure.EmailCount(expected=3, received=2, lost=1)
    slow = _result("SMTP 421", recovery_seconds=130.0)
    never = _result("SMTP hang", recovery_seconds=None)
    error = _result("gunicorn worker killed", server_errors=1, server_errors_outside_window=1)
    hidden = _result("SMTP 550", emails=measure.EmailCount(failed=2), failed_shown=1)
    base = [_result("baseline", wix_rate=4.0), _result("Wix outage", wix_rate=4.5)]
    for extra, target in [
        (_result("x", emails=lost), "0 emails lost"),
        (slow, "backlog empty"),
        (never, "backlog empty"),
        (error, "0 5xx"),
        (hidden, "every permanently"),
    ]:
        found = {t.name: t.met for t in report.targets([*base, extra])}
        failing = {name for name, met in found.items() if not met}
        assert any(name.startswith(target) for name in failing), (target, failing)
    outage = {t.name: t for t in report.targets(base)}
    ratio = next(t for name, t in outage.items() if name.startswith("Wix calls"))
    assert not ratio.met and "1.12×" in ratio.detail


def test_a_5xx_inside_the_restart_window_is_allowed():
    results = [
        _result("baseline", wix_rate=4.0),
        _result("Wix outage", wix_rate=0.0),
        _result("PostgreSQL restart", server_errors=3, server_errors_outside_window=0),
    ]
    assert report.all_met(results)


def test_a_timed_fault_gets_its_duration_of_load_and_the_others_share_the_rest():
    run = Run.__new__(Run)
    run.rate, run.phase_seconds = 2.0, 5.0
    faults = [Fault("baseline", ""), Fault("Wix outage", "", seconds=30), Fault("SMTP 421", "")]
    assert run.plan(faults, count=100) == [(faults[0], 20), (faults[1], 60), (faults[2], 20)]
    # However small the count, a phase lasts phase_seconds of load.
    assert run.plan(faults, count=10) == [(faults[0], 10), (faults[1], 60), (faults[2], 10)]


def test_durations_read_as_an_operator_writes_them():
    assert parse_duration("30m") == 1800
    assert parse_duration("90s") == parse_duration("90") == 90
    assert parse_duration("1.5h") == 5400
    with pytest.raises(CommandError):
        parse_duration("soon")


# --- the run's own PostgreSQL ---------------------------------------------------------------------
@pytest.mark.slow
def test_the_runs_own_postgres_starts_restarts_and_is_removed():
    try:
        find_bin_dir()
    except RuntimeError:
        pytest.skip("PostgreSQL's server programs are not installed")
    # As the command makes it: the postgres user must reach the directory (pytest's are 0700).
    tmp_path = Path(tempfile.mkdtemp(prefix="chaos-test-"))
    tmp_path.chmod(0o755)
    postgres = OwnPostgres(root=tmp_path / "pg", port=benchkit.free_port())
    try:
        postgres.init()
        postgres.start()
        assert postgres.running()
        import psycopg

        with psycopg.connect(
            postgres.url.replace("postgres://", "postgresql://"), autocommit=True
        ) as conn:
            before = conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
        assert postgres.restart() < 60
        with psycopg.connect(
            postgres.url.replace("postgres://", "postgresql://"), autocommit=True
        ) as conn:
            after = conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
        assert after > before
    finally:
        postgres.remove()
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert not (tmp_path / "pg").exists()


# --- the mail service's bounces -----------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.usefixtures("mailgun_webhooks")
def test_the_bounce_the_run_posts_is_read_by_the_product_as_mailgun_s(client):
    business = BusinessFactory()
    delivery = _delivery(business, 1, Delivery.State.SENT)
    delivery.provider_message_id = message_id_for(delivery)
    delivery.save(update_fields=["provider_message_id"])
    payload = signed_bounce(
        message_id=delivery.provider_message_id, recipient=delivery.recipient, key=SIGNING_KEY
    )
    answer = client.post(BOUNCE_URL, data=payload, content_type="application/json")
    assert answer.status_code == 200
    delivery.refresh_from_db()
    assert delivery.state == Delivery.State.BOUNCED
    assert "bounced" in delivery.last_error
    forged = signed_bounce(
        message_id=delivery.provider_message_id, recipient=delivery.recipient, key="other"
    )
    assert client.post(BOUNCE_URL, data=forged, content_type="application/json").status_code in (
        400,
        403,
    )


# --- the soak's owner in the dashboard ------------------------------------------------------------
SOAK_SECRET = "soak-test-app-secret"
# Production's cookie flags: the session and CSRF cookies are Secure and SameSite=None.
PRODUCTION_COOKIES = {
    "SESSION_COOKIE_SECURE": True,
    "CSRF_COOKIE_SECURE": True,
    "SESSION_COOKIE_SAMESITE": "None",
    "CSRF_COOKIE_SAMESITE": "None",
    "WIX_APP_SECRET": SOAK_SECRET,
    "WIX_APP_ID": "soak-app",
}


def _soak_load(url: str, tmp_path: Path):
    from console.chaos.load import Load, Tally

    return Load(base_url=url, links_log=tmp_path / "links.tsv", tally=Tally(), threads=2)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_soak_owner_signs_in_through_wix_and_sees_the_dashboard(
    live_server, tmp_path, settings
):
    from console.chaos.load import Tenant
    from console.chaos.soak import sign_in
    from tests.proposals.factories import make_proposal

    for name, value in PRODUCTION_COOKIES.items():
        setattr(settings, name, value)
    business = BusinessFactory(instance_id="soak-instance-1")
    proposal = make_proposal(business=business)
    load = _soak_load(live_server.url, tmp_path)
    try:
        cookie = sign_in(load, Tenant(business.instance_id, business.pk, "unused"), 0)
        for what, path in (
            ("dashboard: list", "/app/"),
            ("dashboard: proposal", f"/app/proposals/{proposal.pk}/"),
        ):
            load.submit_request(what, "GET", path, headers={"Cookie": cookie}, expect=200).result()
    finally:
        load.close()
    assert load.tally.unexpected == []
    assert load.tally.requests == {
        "dashboard: sign in": 1,
        "dashboard: list": 1,
        "dashboard: proposal": 1,
    }
    assert load.tally.statuses == {200: 2, 300: 1}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_dashboard_page_that_is_not_the_page_counts_against_the_soak(live_server, tmp_path):
    load = _soak_load(live_server.url, tmp_path)
    try:
        # No session: the login page's redirect; a path that is no page: 404.
        load.submit_request("dashboard: list", "GET", "/app/", expect=200).result()
        load.submit_request("dashboard: nowhere", "GET", "/app/proposals/", expect=200).result()
    finally:
        load.close()
    assert sorted((what, status) for _, what, status in load.tally.unexpected) == [
        ("dashboard: list", 302),
        ("dashboard: nowhere", 404),
    ]


# --- the soak's businesses: enough that the per-business send limit never defers ---------------
def test_the_soak_spreads_its_rate_so_no_business_meets_the_send_limit(settings):
    from console.chaos.soak import EMAILS_PER_TICK, tenants_for

    settings.DELIVERY_RATE_LIMIT = 60
    settings.DELIVERY_RATE_WINDOW_SECONDS = 60
    for rate in (1.0, 5.0, 12.5):
        tenants = tenants_for(rate)
        per_business = rate * EMAILS_PER_TICK / tenants
        assert per_business <= 0.5, (rate, tenants)
    # The 8-minute soak that deferred emails ran 5 ticks/s over 4 businesses.
    assert tenants_for(5.0) > 4
    settings.DELIVERY_RATE_LIMIT = 0  # no limit: the few businesses of any run
    assert tenants_for(50.0) == 4


@pytest.mark.django_db
def test_an_email_sent_while_it_is_counted_is_not_counted_lost():
    business = BusinessFactory()
    sending = _delivery(business, 1, Delivery.State.SENDING)

    def arrivals():
        # The worker sends it after its state was read and before the log is.
        Delivery.objects.filter(pk=sending.pk).update(state=Delivery.State.SENT)
        return {message_id_for(sending): [1.0]}

    count = measure.count_emails(business_ids=[business.pk], arrivals=arrivals, kill_times=[])
    assert (count.lost, count.received) == (0, 1)


def test_the_soak_runs_at_its_own_rate_and_its_command_line_reproduces_it():
    soak = {"quick": False, "soak": "30m", "count": 2000, "time_scale": 0.1}
    assert presets(soak)["rate"] == 3.0
    assert command_line({**soak, "rate": 3.0}) == 'make chaos CHAOS_ARGS="--soak 30m"'
    assert command_line({**soak, "rate": 5.0}) == 'make chaos CHAOS_ARGS="--soak 30m --rate 5"'
    assert presets({**soak, "soak": ""})["rate"] == 5.0
