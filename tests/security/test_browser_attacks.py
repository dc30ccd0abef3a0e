"""E2E-02 and CSRF-03 in a real browser: hostile imported text never runs (no dialog,
no CSP violation), and a page on another origin cannot make a signed-in browser act."""

from __future__ import annotations

import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from portal import create_app
from sync.access import contacts, links
from tests.portal.conftest import free_port
from tests.portal.test_browser import ARGS, CHROMIUM
from tests.security.test_hostile_data import hostile_import

pytestmark = pytest.mark.slow


@pytest.fixture
def live(portal_settings, store, world, tmp_path):  # type: ignore[no-untyped-def]
    hostile_import(store, portal_settings, tmp_path)
    port = free_port()
    settings = replace(portal_settings, base_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, store=store)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield store, settings.base_url
    server.shutdown()


def _link(store, base, email):  # type: ignore[no-untyped-def]
    with store.write(ledger=False) as conn:
        contact = contacts.find_contact(conn, email)
        return links.link_url(
            base,
            links.issue_link(conn, "contact", contact["id"], contact["email"], 15),
        )


def test_e2e02_hostile_text_never_runs_in_a_browser(live):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM}"
    store, base = live
    with store.read() as conn:
        invoice_id = conn.execute(
            text(
                "SELECT i.id FROM invoice i JOIN account a ON a.id = i.account_id WHERE a.external_key = 'H1'"
            )
        ).scalar_one()
    dialogs, violations = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context().new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.on(
            "console",
            lambda m: (
                violations.append(m.text)
                if "Content Security Policy" in m.text
                else None
            ),
        )
        page.goto(_link(store, base, "evil.viewer@example.com"))
        page.get_by_role("button", name="Sign in").click()
        for path in (
            "/",
            "/invoices",
            f"/invoices/{invoice_id}",
            "/credit-notes",
            "/statements?from=2025-01-01&to=2025-12-31",
            "/documents",
        ):
            page.goto(base + path)
            page.mouse.move(200, 300)
            page.wait_for_timeout(100)
        browser.close()
    assert dialogs == [] and violations == []


def test_csrf03_a_page_on_another_origin_cannot_sign_you_out_or_claim_payments(
    live, world
):
    from playwright.sync_api import sync_playwright

    store, base = live
    target = f"{base}/invoices/{world.invoices['A-100']}/paid"
    attack = f"""<html><body>
      <form id=f method=post action="{target}"><input name=amount value=1><input name=paid_on value=2025-01-01></form>
      <form id=g method=post action="{base}/sign-out"></form>
      <script>document.getElementById('f').submit();</script></body></html>""".encode()

    class Evil(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(attack)

        def log_message(self, *args) -> None:  # type: ignore[no-untyped-def]
            pass

    evil_port = free_port()
    evil = HTTPServer(("127.0.0.2", evil_port), Evil)
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_context().new_page()
            page.goto(_link(store, base, "a_parent@example.com"))
            page.get_by_role("button", name="Sign in").click()
            page.goto(f"http://127.0.0.2:{evil_port}/")
            page.wait_for_load_state("networkidle")
            page.goto(base + "/")
            assert "Hello" in page.content()  # still signed in
            browser.close()
    finally:
        evil.shutdown()
        evil.server_close()
    with store.read() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM payment_claim")).scalar_one() == 0
        )
