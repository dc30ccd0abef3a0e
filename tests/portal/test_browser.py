"""End to end in a real browser: Chromium at a phone's size, driven by Playwright.

A contact asks for a sign-in link, reads it from the mail a real SMTP server received,
opens it, presses "Sign in", opens an invoice, downloads its PDF and a statement.
Chromium must be installed (``python -m tests`` installs Debian's package); without it
this test fails, it never skips.
"""

from __future__ import annotations

import io
import re
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from pypdf import PdfReader
from werkzeug.serving import make_server

from portal import create_app
from tests.portal.conftest import free_port

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def live_portal(portal_settings, store, world):  # type: ignore[no-untyped-def]
    port = free_port()
    settings = replace(portal_settings, base_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, store=store)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, settings.base_url
    finally:
        server.shutdown()
        app.extensions["billfold"].mailer.flush()


def test_phone_sign_in_by_emailed_link_then_invoice_and_statement(
    live_portal, smtp_sink, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM}"
    app, base = live_portal
    sink, _ = smtp_sink
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, accept_downloads=True
        )
        page = context.new_page()
        page.goto(base + "/")
        expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
        page.get_by_label("Email address").fill("a_parent@example.com")
        page.get_by_role("button", name="Email me a sign-in link").click()
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

        app.extensions["billfold"].mailer.flush()
        body = sink.wait_for("a_parent@example.com").get_payload(decode=True).decode()
        [link] = re.findall(re.escape(base) + r"/sign-in/[A-Za-z0-9_\-]+", body)
        page.goto(link)
        expect(page.get_by_text("a***@example.com")).to_be_visible()
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Hello, A Parent")).to_be_visible()
        expect(page.get_by_text("$150.00").first).to_be_visible()

        page.get_by_role("link", name="Invoices", exact=True).click()
        page.get_by_role("link", name="A1-200").click()
        expect(
            page.get_by_role("heading", name=re.compile("Invoice A1-200"))
        ).to_be_visible()
        with page.expect_download() as pdf_download:
            page.get_by_role("link", name="Download PDF").click()
        pdf_path = tmp_path / "invoice.pdf"
        pdf_download.value.save_as(pdf_path)
        text = PdfReader(io.BytesIO(pdf_path.read_bytes())).pages[0].extract_text()
        assert "A1-200" in text and "$200.00" in text

        page.get_by_role("link", name="Statements").click()
        with page.expect_download() as statement_download:
            page.get_by_role("link", name="Download PDF").click()
        statement_path = tmp_path / "statement.pdf"
        statement_download.value.save_as(statement_path)
        assert (
            "STATEMENT"
            in PdfReader(io.BytesIO(statement_path.read_bytes()))
            .pages[0]
            .extract_text()
        )

        cookies = {c["name"]: c for c in context.cookies()}
        assert (
            cookies["billfold_session"]["httpOnly"]
            and cookies["billfold_session"]["sameSite"] == "Lax"
        )
        page.screenshot(path=str(tmp_path / "statement-phone.png"), full_page=True)
        context.close()
        browser.close()
