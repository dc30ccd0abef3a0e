"""Sign-in by one-time email link, sessions, sign-out and revocation (real SMTP)."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

from sqlalchemy import select, update

from schemas.tables import (
    AUDIT_EVENTS,
    LOGIN_TOKENS,
    PORTAL_SESSIONS,
    utcnow,
)
from sync.access import contacts, links
from tests.portal.conftest import csrf_from, sign_in

LINK = re.compile(r"https://portal\.example/sign-in/[A-Za-z0-9_\-]+")


def _request_link(client, email: str):
    page = client.get("/sign-in")
    return client.post(
        "/sign-in",
        data={"email": email, "csrf_token": csrf_from(page.get_data(as_text=True))},
    )


def test_known_email_gets_a_link_by_real_smtp_and_it_signs_in(app, client, smtp_sink):
    sink, _ = smtp_sink
    response = _request_link(client, "A_Parent@Example.com ")
    assert response.status_code == 200
    assert "Check your email" in response.get_data(as_text=True)
    app.extensions["billfold"].mailer.flush()
    mail = sink.wait_for("a_parent@example.com")
    assert mail["Subject"] == "Your sign-in link for Harbor Plumbing & Heating"
    body = mail.get_payload(decode=True).decode()
    [url] = LINK.findall(body)
    assert "expires in 15 minutes" in body
    path = url.removeprefix("https://portal.example")

    confirm = client.get(path)
    assert confirm.status_code == 200
    assert "a***@example.com" in confirm.get_data(as_text=True)
    signed_in = client.post(
        path, data={"csrf_token": csrf_from(confirm.get_data(as_text=True))}
    )
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    cookie = signed_in.headers["Set-Cookie"]
    assert (
        "billfold_session=" in cookie
        and "HttpOnly" in cookie
        and "Secure" in cookie
        and "SameSite=Lax" in cookie
    )
    home = client.get("/")
    assert "Hello, A Parent" in home.get_data(as_text=True)


def test_unknown_revoked_and_disabled_emails_get_the_same_answer_and_no_mail(
    app, client, smtp_sink
):
    sink, _ = smtp_sink
    known = _request_link(client, "a_parent@example.com").get_data(as_text=True)
    answers = {}
    for email in (
        "nobody@example.com",
        "revoked_user@example.com",
        "d_user@example.com",
    ):
        answers[email] = _request_link(client, email).get_data(as_text=True)
    app.extensions["billfold"].mailer.flush()

    def shape(html: str, email: str) -> str:
        return re.sub(r'name="csrf_token" value="[^"]+"', "", html).replace(
            email, "EMAIL"
        )

    for email, html in answers.items():
        assert shape(html, email) == shape(known, "a_parent@example.com")
    assert [m["To"] for m in sink.messages] == ["a_parent@example.com"]


def test_the_link_get_never_consumes_it_scanners_welcome(app, client):
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        contact = contacts.find_contact(conn, "a_parent@example.com")
        token = links.issue_link(conn, "contact", contact["id"], contact["email"], 15)
    for _ in range(3):
        assert client.get(f"/sign-in/{token}").status_code == 200
        assert client.head(f"/sign-in/{token}").status_code == 200
    page = client.get(f"/sign-in/{token}")
    assert (
        client.post(
            f"/sign-in/{token}",
            data={"csrf_token": csrf_from(page.get_data(as_text=True))},
        ).status_code
        == 302
    )


def test_a_link_works_once(app, client):
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        contact = contacts.find_contact(conn, "a_parent@example.com")
        token = links.issue_link(conn, "contact", contact["id"], contact["email"], 15)
    page = client.get(f"/sign-in/{token}")
    csrf = csrf_from(page.get_data(as_text=True))
    assert (
        client.post(f"/sign-in/{token}", data={"csrf_token": csrf}).status_code == 302
    )
    other = app.test_client()
    replay = other.get(f"/sign-in/{token}")
    assert replay.status_code == 410 and "already been used" in replay.get_data(
        as_text=True
    )
    again = other.post(
        f"/sign-in/{token}",
        data={"csrf_token": csrf_from(other.get("/sign-in").get_data(as_text=True))},
    )
    assert again.status_code == 410
    assert "billfold_session" not in again.headers.get("Set-Cookie", "")


def test_an_expired_link_does_not_sign_in(app, client):
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        contact = contacts.find_contact(conn, "a_parent@example.com")
        token = links.issue_link(conn, "contact", contact["id"], contact["email"], 15)
        t = LOGIN_TOKENS
        conn.execute(update(t).values(expires_at=utcnow() - timedelta(seconds=1)))
    page = client.get(f"/sign-in/{token}")
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)
    csrf = csrf_from(client.get("/sign-in").get_data(as_text=True))
    assert (
        client.post(f"/sign-in/{token}", data={"csrf_token": csrf}).status_code == 410
    )


def test_a_made_up_link_is_refused(client):
    page = client.get("/sign-in/not-a-real-token")
    assert page.status_code == 410 and "not a valid sign-in link" in page.get_data(
        as_text=True
    )


def test_two_clicks_at_once_sign_in_exactly_once(app):
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        contact = contacts.find_contact(conn, "a_parent@example.com")
        token = links.issue_link(conn, "contact", contact["id"], contact["email"], 15)
    winners = []
    barrier = threading.Barrier(4)

    def click() -> None:
        barrier.wait()
        with store.write(ledger=False) as conn:
            winners.append(links.consume_link(conn, token, "contact"))

    threads = [threading.Thread(target=click) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(w is not None for w in winners) == [False, False, False, True]


def test_requests_are_rate_limited_per_email(app, client, smtp_sink):
    sink, _ = smtp_sink
    limit = app.extensions["billfold"].settings.portal.rate_limit_per_email
    codes = [
        _request_link(client, "a_parent@example.com").status_code
        for _ in range(limit + 2)
    ]
    assert codes[:limit] == [200] * limit
    assert codes[limit:] == [429, 429]
    app.extensions["billfold"].mailer.flush()
    assert len(sink.messages) == limit


def test_requests_are_rate_limited_per_client(app, client):
    limit = app.extensions["billfold"].settings.portal.rate_limit_per_ip
    codes = [
        _request_link(client, f"stranger{i}@example.com").status_code
        for i in range(limit + 1)
    ]
    assert codes[-1] == 429 and codes[:limit] == [200] * limit


def test_sign_out_ends_the_session_for_a_copied_cookie(app, client):
    sign_in(app, client, "a_parent")
    cookie = client.get_cookie("billfold_session").value
    thief = app.test_client()
    thief.set_cookie("billfold_session", cookie)
    assert thief.get("/").status_code == 200
    csrf = csrf_from(client.get("/").get_data(as_text=True))
    assert client.post("/sign-out", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/").headers["Location"] == "/sign-in"
    assert thief.get("/").headers["Location"] == "/sign-in"


def test_revoking_a_contact_ends_every_session_and_link_at_once(app, client):
    sign_in(app, client, "b_user")
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        contact = contacts.find_contact(conn, "b_user@example.com")
        pending = links.issue_link(conn, "contact", contact["id"], contact["email"], 15)
        contacts.revoke_contact(conn, contact["id"])
    assert client.get("/invoices").status_code == 302
    assert app.test_client().get(f"/sign-in/{pending}").status_code == 410


def test_idle_and_absolute_timeouts(app, client):
    sign_in(app, client, "a_parent")
    store = app.extensions["billfold"].store
    s = PORTAL_SESSIONS
    idle = app.extensions["billfold"].settings.portal.session_idle_minutes
    with store.write(ledger=False) as conn:
        conn.execute(
            update(s).values(last_seen_at=utcnow() - timedelta(minutes=idle + 1))
        )
    assert client.get("/").status_code == 302
    sign_in(app, client, "a_parent")
    with store.write(ledger=False) as conn:
        conn.execute(update(s).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert client.get("/").status_code == 302


def test_a_session_cookie_set_before_sign_in_is_not_reused(app, client):
    client.set_cookie("billfold_session", "attacker-chosen-value")
    sign_in(app, client, "a_parent")
    assert client.get_cookie("billfold_session").value != "attacker-chosen-value"


def test_post_without_csrf_token_is_refused(app, client):
    sign_in(app, client, "a_parent")
    assert client.post("/sign-out").status_code == 400
    assert (
        client.post("/sign-in", data={"email": "a_parent@example.com"}).status_code
        == 400
    )
    assert client.get("/").status_code == 200  # still signed in


def test_sign_in_is_audited_with_ip(app, client):
    sign_in(app, client, "a_parent")
    store = app.extensions["billfold"].store
    with store.read() as conn:
        rows = conn.execute(
            select(AUDIT_EVENTS).where(AUDIT_EVENTS.c.action == "sign_in")
        ).all()
    assert len(rows) == 1 and rows[0].ip == "127.0.0.1"
