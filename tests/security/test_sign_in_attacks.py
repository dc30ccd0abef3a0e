"""AUTH rows of research/SECURITY.md: guessing, stolen tables, host poisoning, scanners,
leaks through logs and referrers, open redirects, enumeration by timing."""

from __future__ import annotations

import random
import re
import statistics
import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import event, text

from portal import create_app
from sync.access import contacts, links
from sync.log import redact
from tests.portal.conftest import csrf_from, sign_in


def _token(app, email="a_parent@example.com", kind="contact") -> str:
    store = app.extensions["billfold"].store
    with store.write(ledger=False) as conn:
        person = contacts.find_contact(conn, email)
        return links.issue_link(conn, kind, person["id"], person["email"], 15)


def test_auth01_tokens_are_long_random_and_unique(app):
    tokens = {_token(app) for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(t) >= 43 and re.fullmatch(r"[A-Za-z0-9_\-]+", t) for t in tokens)


def test_auth02_the_database_holds_only_hashes(app, client):
    token = _token(app)
    sign_in(app, client, "a_parent")
    cookie = client.get_cookie("billfold_session").value
    store = app.extensions["billfold"].store
    with store.read() as conn:
        dump = " ".join(
            str(v)
            for table in ("login_token", "portal_session")
            for row in conn.execute(text(f"SELECT * FROM {table}"))
            for v in row
        )
    assert token not in dump and cookie not in dump
    assert links.digest(token) in dump


def test_auth09_links_never_come_from_the_host_header(app, client, smtp_sink):
    sink, _ = smtp_sink
    page = client.get("/sign-in", headers={"Host": "evil.example"})
    client.post(
        "/sign-in",
        data={
            "email": "a_parent@example.com",
            "csrf_token": csrf_from(page.get_data(as_text=True)),
        },
        headers={"Host": "evil.example", "X-Forwarded-Host": "evil.example"},
    )
    app.extensions["billfold"].mailer.flush()
    body = sink.wait_for("a_parent@example.com").get_payload(decode=True).decode()
    assert "https://portal.example/sign-in/" in body and "evil.example" not in body


def test_auth10_opening_a_link_never_hands_out_a_session(app, client):
    token = _token(app)
    for method in ("GET", "HEAD"):
        response = client.open(f"/sign-in/{token}", method=method)
        assert "billfold_session" not in response.headers.get("Set-Cookie", "")
    assert client.get("/").status_code == 302


def test_auth11_secrets_stay_out_of_logs_and_referrers(app, client):
    line = '127.0.0.1 - - "GET /sign-in/AbC_d-9xYz HTTP/1.1" 200 "GET /admin/sign-in/Qq HTTP/1.1"'
    assert (
        redact(line)
        == '127.0.0.1 - - "GET /sign-in/[redacted] HTTP/1.1" 200 "GET /admin/sign-in/[redacted] HTTP/1.1"'
    )
    page = client.get(f"/sign-in/{_token(app)}")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert '<meta name="referrer" content="no-referrer">' in page.get_data(as_text=True)


def test_auth12_no_open_redirect_after_switching_account(app, client, world):
    sign_in(app, client, "a_parent")
    csrf = csrf_from(client.get("/").get_data(as_text=True))
    for target in (
        "//evil.example/x",
        "https://evil.example/",
        "javascript:alert(1)",
        "/\\evil.example",
    ):
        response = client.post(
            "/account", data={"csrf_token": csrf, "account": "all", "next": target}
        )
        location = response.headers["Location"]
        assert (
            location.startswith("/")
            and not location.startswith("//")
            and "evil" not in location
        ), target


def test_auth06_known_and_unknown_addresses_get_the_same_answer_and_work(
    portal_settings, store, world
):
    """Before the answer, a known and an unknown address run the same statements on the
    request's own thread, and get the same page byte for byte but the address itself:
    whether a link is due is decided after the answer (the timing test measures it)."""
    app = create_app(portal_settings, store=store)
    app.extensions["billfold"].mailer.kick = lambda: (
        None
    )  # the answer alone is compared
    client = app.test_client()
    csrf = csrf_from(client.get("/sign-in").get_data(as_text=True))
    seen: list[str] = []
    request_thread = threading.get_ident()

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() == request_thread:
            seen.append(statement)

    def answer(email: str) -> tuple[list[str], str, int]:
        seen.clear()
        page = client.post("/sign-in", data={"email": email, "csrf_token": csrf})
        body = page.get_data(as_text=True).replace(email, "ADDRESS")
        return list(seen), re.sub(r'value="[^"]+"', "", body), page.status_code

    event.listen(store.engine, "before_cursor_execute", on_execute)
    try:
        known = answer("a_parent@example.com")
        unknown = answer("z_nobody@example.com")
    finally:
        event.remove(store.engine, "before_cursor_execute", on_execute)
    assert known[2] == unknown[2] == 200
    assert known[0], "no statement was seen: the listener did not run"
    assert known[0] == unknown[0]
    assert known[1] == unknown[1]


@pytest.mark.slow
@pytest.mark.alone  # it measures time: on a busy machine the medians mean nothing
def test_auth06_known_and_unknown_addresses_answer_alike_in_time(
    portal_settings, store, world
):
    """Interleaved at random, a few hundred requests each: the medians agree.

    The form does the same work for every address (count, queue); the lookup, the
    link and the mail happen after the answer. Same-length addresses, so the pages
    are the same size; limits raised so that no request is turned away.
    """
    settings = replace(
        portal_settings,
        portal=replace(
            portal_settings.portal, rate_limit_per_email=10**6, rate_limit_per_ip=10**6
        ),
    )
    app = create_app(settings, store=store)
    client = app.test_client()
    known = [f"{name}@example.com" for name in ("a_parent", "b_user")]
    unknown = [f"{name}@example.com" for name in ("z_nobody", "y_nobo")]
    assert sorted(map(len, known)) == sorted(map(len, unknown))
    csrf = csrf_from(client.get("/sign-in").get_data(as_text=True))

    def timed(email: str) -> float:  # not money: seconds
        started = time.perf_counter()
        response = client.post("/sign-in", data={"email": email, "csrf_token": csrf})
        elapsed = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        return elapsed

    for email in known + unknown:  # warm up every path once
        timed(email)
    order = [("known", e) for e in known * 150] + [
        ("unknown", e) for e in unknown * 150
    ]
    random.Random(6).shuffle(order)
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for kind, email in order:
        times[kind].append(timed(email))
    app.extensions["billfold"].mailer.flush(timeout=60)
    k, u = statistics.median(times["known"]), statistics.median(times["unknown"])
    gap = abs(k - u)
    assert gap <= 0.001 or gap <= 0.25 * min(k, u), (
        f"median known {k * 1000:.2f} ms, unknown {u * 1000:.2f} ms"
    )


def test_auth08_admin_sign_in_is_rate_limited_too(app, client):
    limit = app.extensions["billfold"].settings.portal.rate_limit_per_email
    codes = []
    for _ in range(limit + 1):
        page = client.get("/admin/sign-in")
        codes.append(
            client.post(
                "/admin/sign-in",
                data={
                    "email": "office@harbor.example",
                    "csrf_token": csrf_from(page.get_data(as_text=True)),
                },
            ).status_code
        )
    assert codes[-1] == 429


def test_sess06_pages_are_not_cached_for_the_back_button(app, client):
    sign_in(app, client, "a_parent")
    for path in ("/", "/invoices", "/statements"):
        assert client.get(path).headers["Cache-Control"] == "no-store"
