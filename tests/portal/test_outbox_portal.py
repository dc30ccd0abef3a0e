"""The portal's mail goes through the outbox: it survives a worker that stops, and a
request for an unknown address leaves nothing behind (real SMTP)."""

from __future__ import annotations

from sqlalchemy import select

from portal import create_app
from schemas.tables import OutboxMessage
from tests.portal.conftest import csrf_from

O = OutboxMessage.__table__  # noqa: E741


def _ask(client, email: str) -> int:  # type: ignore[no-untyped-def]
    page = client.get("/sign-in")
    return client.post(
        "/sign-in",
        data={"email": email, "csrf_token": csrf_from(page.get_data(as_text=True))},
    ).status_code


def _rows(store):  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(O)).all()


def test_a_link_asked_of_a_worker_that_stopped_is_sent_by_the_next_one(
    app, client, store, portal_settings, smtp_sink, monkeypatch
):
    sink, _ = smtp_sink
    stopped = app.extensions["billfold"].mailer
    monkeypatch.setattr(stopped, "kick", lambda: None)  # it stops before sending
    assert _ask(client, "a_parent@example.com") == 200
    [waiting] = _rows(store)
    assert (waiting.kind, waiting.state) == ("request", "waiting")

    restarted = create_app(portal_settings, store=store)
    sender = restarted.extensions["billfold"].mailer
    sender.start()  # as portal.wsgi does
    try:
        mail = sink.wait_for("a_parent@example.com", timeout=30)
        sender.flush()
    finally:
        sender.stop()
    assert "https://portal.example/sign-in/" in mail.get_payload(decode=True).decode()
    [sent] = _rows(store)
    assert (sent.kind, sent.state, sent.attempts) == ("link", "sent", 1)


def test_a_request_for_an_unknown_address_leaves_no_row_and_no_mail(
    app, client, store, smtp_sink
):
    sink, _ = smtp_sink
    assert _ask(client, "nobody@example.com") == 200
    app.extensions["billfold"].mailer.flush()
    assert _rows(store) == []
    assert sink.messages == []
