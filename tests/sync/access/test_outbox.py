"""The outbox: mail is a row written with its event, sent with retries, once, by leases.

Real SMTP throughout (aiosmtpd in-process), including a server that refuses a number of
times and then accepts.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from sqlalchemy import select, text, update

from schemas.tables import LoginToken, OutboxMessage, utcnow
from sync.access import contacts, links, outbox
from sync.access.mail import Message
from sync.cli import main
from sync.config import SmtpSettings
from tests.portal.conftest import Sink, free_port

O = OutboxMessage.__table__  # noqa: E741
T = LoginToken.__table__
LINK = re.compile(r"https://portal\.example/(?:admin/)?sign-in/([A-Za-z0-9_\-]{40,})")


class RefusingSink(Sink):
    """Answers 451 (try again later) to the first *refusals* messages, then accepts."""

    def __init__(self, refusals: int) -> None:
        super().__init__()
        self.refusals = refusals
        self.refused = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.refused < self.refusals:
            self.refused += 1
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    """Start a sink (refusing *n* first) on a free port; stopped after the test."""
    started = []

    def start(refusals: int = 0) -> tuple[RefusingSink, int]:
        sink = RefusingSink(refusals)
        port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=port)
        controller.start()
        started.append(controller)
        return sink, port

    yield start
    for controller in started:
        controller.stop()


def _mail_settings(settings, port: int | None, **smtp):  # type: ignore[no-untyped-def]
    values = {"security": "none", "from_address": "portal@harbor.example", **smtp}
    if port is not None:
        values.update(host="127.0.0.1", port=port)
    return replace(
        settings, smtp=SmtpSettings(**values), base_url="https://portal.example"
    )


def _invite(store, email: str = "ann@example.com") -> tuple[str, int]:  # type: ignore[no-untyped-def]
    """Issue a link for a new contact and queue its mail in one transaction."""
    with store.write(ledger=False) as conn:
        contact_id = contacts.ensure_contact(conn, email, None)
        token = links.issue_link(conn, "contact", contact_id, email, 60)
        row = outbox.enqueue_link(conn, token, email, invited=True)
    return token, row


def _row(store, row_id: int):  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(O).where(O.c.id == row_id)).one()


def _make_due(store, row_id: int) -> None:
    """The backoff has passed (moved in the store rather than waited for)."""
    with store.write(ledger=False) as conn:
        conn.execute(
            update(O)
            .where(O.c.id == row_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def test_a_refused_mail_waits_backs_off_and_is_sent_once_the_server_accepts(
    store, settings, smtp
):
    sink, port = smtp(refusals=2)
    settings = _mail_settings(settings, port, retry_seconds=30, max_attempts=5)
    issued, row_id = _invite(store)

    done = outbox.deliver_due(store, settings, "a")
    assert (done.retrying, done.sent) == (1, 0)
    first = _row(store, row_id)
    assert (first.state, first.attempts) == ("waiting", 1)
    assert "451" in first.last_error
    assert first.next_attempt_at - utcnow() > timedelta(seconds=25)  # 30 s backoff
    assert outbox.deliver_due(store, settings, "a").handled == 0  # not due yet

    _make_due(store, row_id)
    assert outbox.deliver_due(store, settings, "a").retrying == 1
    second = _row(store, row_id)
    # The wait doubles: 60 s after the second refusal.
    assert second.next_attempt_at - utcnow() > timedelta(seconds=55)

    _make_due(store, row_id)
    assert outbox.deliver_due(store, settings, "a").sent == 1
    assert (_row(store, row_id).state, _row(store, row_id).attempts) == ("sent", 3)
    mail = sink.wait_for("ann@example.com")
    [secret] = LINK.findall(mail.get_payload(decode=True).decode())
    # Only the mailed secret signs in, once; the one issued with the event never does.
    with store.write(ledger=False) as conn:
        assert links.consume_link(conn, issued, "contact") is None
        assert links.consume_link(conn, secret, "contact") is not None
        assert links.consume_link(conn, secret, "contact") is None
    assert len(sink.messages) == 1


def test_after_max_attempts_a_mail_is_failed_and_status_shows_it(
    store, settings, smtp, tmp_path
):
    _, port = smtp(refusals=100)
    settings = _mail_settings(settings, port, max_attempts=2)
    _, row_id = _invite(store, "bo@example.com")
    outbox.deliver_due(store, settings, "a")
    _make_due(store, row_id)
    assert outbox.deliver_due(store, settings, "a").failed == 1
    assert _row(store, row_id).state == "failed"
    _make_due(store, row_id)
    assert outbox.deliver_due(store, settings, "a").handled == 0  # never again

    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'database_url = "{settings.resolved_database_url}"\n'
    )
    result = CliRunner().invoke(main, ["--config", str(config), "status"])
    assert result.exit_code == 0, result.output
    assert "mail: 0 waiting, 1 failed" in result.output
    detail = CliRunner().invoke(main, ["--config", str(config), "status", "--mail"])
    assert f"#{row_id} failed link to bo@example.com, 2 attempt(s)" in detail.output
    assert "451" in detail.output
    as_json = CliRunner().invoke(
        main, ["--config", str(config), "status", "--json", "--mail"]
    )
    shown = json.loads(as_json.output)
    assert shown["sources"] == []
    [failed] = shown["mail"]["messages"]
    assert (shown["mail"]["failed"], shown["mail"]["waiting"]) == (1, 0)
    assert failed | {"created": None, "last_error": None} == {
        "id": row_id, "state": "failed", "kind": "link", "to": "bo@example.com",
        "attempts": 2, "created": None, "next_attempt": None, "last_error": None,
    }  # fmt: skip


def test_two_senders_at_once_send_every_mail_exactly_once(store, settings, smtp):
    sink, port = smtp()
    settings = _mail_settings(settings, port)
    addresses = [f"c{i}@example.com" for i in range(12)]
    for address in addresses:
        with store.write(ledger=False) as conn:
            outbox.enqueue_message(conn, Message(address, "Notice", "Hello.\n"))
    results: dict[str, outbox.Delivered] = {}

    def sender(owner: str) -> None:
        results[owner] = outbox.deliver_due(store, settings, owner)

    threads = [threading.Thread(target=sender, args=(o,)) for o in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results["one"].sent + results["two"].sent == len(addresses)
    for address in addresses:
        sink.wait_for(address)
    assert sorted(m["To"] for m in sink.messages) == sorted(addresses)


def test_a_row_leased_by_another_sender_is_left_alone_until_its_lease_ends(
    store, settings, smtp
):
    sink, port = smtp()
    settings = _mail_settings(settings, port)
    _, row_id = _invite(store)
    with store.write(ledger=False) as conn:  # a sender elsewhere is sending it
        conn.execute(
            update(O)
            .where(O.c.id == row_id)
            .values(lease_owner="other:1", lease_until=utcnow() + timedelta(minutes=1))
        )
    assert outbox.deliver_due(store, settings, "me").handled == 0
    with store.write(ledger=False) as conn:  # that sender died; its lease ran out
        conn.execute(
            update(O)
            .where(O.c.id == row_id)
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
    assert outbox.deliver_due(store, settings, "me").sent == 1
    sink.wait_for("ann@example.com")


def test_the_outbox_never_holds_a_working_secret(store, settings, smtp):
    sink, port = smtp()
    settings = _mail_settings(settings, port)
    issued, _ = _invite(store)
    with store.read() as conn:
        stored = " ".join(str(v) for v in conn.execute(select(O)).one())
        token_row = conn.execute(select(T)).one()
    assert issued not in stored
    outbox.deliver_due(store, settings, "a")
    [secret] = LINK.findall(
        sink.wait_for("ann@example.com").get_payload(decode=True).decode()
    )
    with store.read() as conn:
        stored = " ".join(str(v) for v in conn.execute(select(O)).one())
        rekeyed = conn.execute(select(T).where(T.c.id == token_row.id)).one()
    assert secret not in stored
    assert rekeyed.token_hash == links.digest(secret) != token_row.token_hash


def test_a_link_withdrawn_before_sending_is_dropped_unsent(store, settings, smtp):
    sink, port = smtp()
    settings = _mail_settings(settings, port)
    _, row_id = _invite(store)
    with store.write(ledger=False) as conn:
        contact = contacts.find_contact(conn, "ann@example.com")
        links.kill_links(conn, "contact", contact["id"])
    assert outbox.deliver_due(store, settings, "a").dropped == 1
    row = _row(store, row_id)
    assert row.state == "dropped" and "expired or withdrawn" in row.last_error
    assert sink.messages == []


def test_mail_exists_only_if_its_event_commits(store, settings):
    with pytest.raises(RuntimeError), store.write(ledger=False) as conn:
        outbox.enqueue_message(conn, Message("x@example.com", "Notice", "Hi.\n"))
        raise RuntimeError("the event failed")
    with store.read() as conn:
        assert conn.execute(select(O)).all() == []


def test_without_smtp_a_link_goes_to_the_log_at_warning(store, settings, caplog):
    settings = _mail_settings(settings, None)
    _, row_id = _invite(store)
    # Once billfold's logging is set up its lines stop propagating to the root, where
    # caplog listens; before that (this test alone) they reach caplog by propagation.
    billfold = logging.getLogger("billfold")
    listening = not billfold.propagate
    if listening:
        billfold.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.WARNING, logger="billfold"):
            assert outbox.deliver_due(store, settings, "a").logged == 1
    finally:
        if listening:
            billfold.removeHandler(caplog.handler)
    [line] = [
        r for r in caplog.records if r.getMessage().startswith("event=mail.not_sent")
    ]
    assert line.levelname == "WARNING"
    assert LINK.search(line.getMessage())
    assert _row(store, row_id).state == "logged"


def test_billfold_run_once_sends_what_waits(store, settings, smtp, tmp_path):
    """Mail left by a web worker that stopped is sent by the next sender: here a
    worker's ``billfold run --once``."""
    sink, port = smtp()
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _, row_id = _invite(store)
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'database_url = "{settings.resolved_database_url}"\n'
        'base_url = "https://portal.example"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from_address = "portal@harbor.example"\n'
        f'[[sources]]\nname = "books"\npath = "{inbox}"\n'
    )
    result = CliRunner().invoke(main, ["--config", str(config), "run", "--once"])
    assert result.exit_code == 0, result.output
    sink.wait_for("ann@example.com")
    assert _row(store, row_id).state == "sent"


def test_run_says_when_its_metrics_port_is_taken(store, settings, tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'database_url = "{settings.resolved_database_url}"\n'
        f'[[sources]]\nname = "books"\npath = "{inbox}"\n'
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main,
            ["--config", str(config), "run", "--once", "--metrics-port", str(port)],
        )
    assert result.exit_code == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in result.output
    assert "choose another --metrics-port" in result.output


def _cli_config(settings, tmp_path, port: int) -> str:  # type: ignore[no-untyped-def]
    config = tmp_path / "mail.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\n'
        f'database_url = "{settings.resolved_database_url}"\n'
        'base_url = "https://portal.example"\n'
        '[business]\nname = "Harbor Plumbing"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'from_address = "portal@harbor.example"\n'
    )
    return str(config)


def test_admin_add_mails_a_first_admin_link_through_the_outbox(
    store, settings, smtp, tmp_path
):
    sink, port = smtp()
    config = _cli_config(settings, tmp_path, port)
    result = CliRunner().invoke(
        main, ["--config", config, "admin", "add", "Office@Example.com"]
    )
    assert result.exit_code == 0, result.output
    assert result.output == "Office@Example.com is an admin; the mail was sent\n"
    mail = sink.wait_for("office@example.com")
    assert mail["Subject"] == "billfold admin access for Harbor Plumbing"
    body = mail.get_payload(decode=True).decode()
    assert "You can now manage billfold for Harbor Plumbing" in body
    assert "expires in 15 minutes" in body
    [secret] = LINK.findall(body)
    with store.write(ledger=False) as conn:
        assert links.consume_link(conn, secret, "admin") is not None


def test_invite_says_when_the_mail_waits_in_the_outbox(store, settings, smtp, tmp_path):
    from sync.engine.pipeline import import_file
    from tests.helpers import SAMPLE_LEDGER

    import_file(store, settings, SAMPLE_LEDGER, source="books")
    with store.read() as conn:
        key = conn.execute(
            text("SELECT external_key FROM account LIMIT 1")
        ).scalar_one()
    _, port = smtp(refusals=1)
    config = _cli_config(settings, tmp_path, port)
    result = CliRunner().invoke(
        main, ["--config", config, "invite", "ann@example.com", "--account", key]
    )
    assert result.exit_code == 0, result.output
    assert (
        "invited ann@example.com (billing); the mail server did not take the mail"
        in (result.output)
    )
    assert "`billfold status --mail`" in result.output
    with store.read() as conn:
        assert outbox.outbox_counts(conn)["waiting"] == 1
