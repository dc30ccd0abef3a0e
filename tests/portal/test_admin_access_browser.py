"""End to end in Chromium: the office invites a contact, uploads a CSV of invitations,
turns the portal on for an account, reads the audit log and previews the portal as a
customer, at desktop and at phone size. Every page is screenshotted (under the test's
tmp_path), must not scroll sideways on a phone, and must raise no console error or
Content-Security-Policy violation."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal import create_app
from sync.access import contacts, links
from tests.portal.conftest import free_port
from tests.portal.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.slow
VIEWPORTS = {"desktop": (1280, 900), "phone": (390, 844)}


@pytest.fixture
def live(portal_settings, store, world):  # type: ignore[no-untyped-def]
    port = free_port()
    settings = replace(portal_settings, base_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, store=store)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield app, settings.base_url
    finally:
        server.shutdown()
        app.extensions["billfold"].mailer.flush()


def admin_link(app, base: str) -> str:
    with app.extensions["billfold"].store.write(ledger=False) as conn:
        admin_id = contacts.ensure_admin(conn, "office@harbor.example")
        token = links.issue_link(conn, "admin", admin_id, "office@harbor.example", 15)
    return links.link_url(base, token, admin=True)


@pytest.mark.parametrize("size", sorted(VIEWPORTS))
def test_access_pages_in_a_real_browser(live, world, tmp_path, size):
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM}"
    app, base = live
    shots = tmp_path / "shots"
    shots.mkdir()
    width, height = VIEWPORTS[size]
    bulk = tmp_path / "wave-1.csv"
    bulk.write_text(
        "email,name,account\n"
        "robin@example.com,Robin Tenant,Birch Dental\n"
        "not-an-email,Nobody,Birch Dental\n"
        'mo@example.com,"=HYPERLINK(""http://evil.example"")",Nowhere Ltd\n'
        "b_user@example.com,,B\n"
    )
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_context(
            viewport={"width": width, "height": height}
        ).new_page()

        def console(message) -> None:
            # failed loads are caught with their address by on_response below
            if (
                message.type in ("error", "warning")
                and "Failed to load" not in message.text
            ):
                problems.append(message.text)

        def on_response(response) -> None:
            # the favicon is Chromium's own guess, not a page of ours
            if response.status >= 400 and not response.url.endswith("/favicon.ico"):
                problems.append(f"{response.status} {response.url}")

        page.on("console", console)
        page.on("response", on_response)
        page.on("pageerror", lambda e: problems.append(str(e)))

        def shot(name: str) -> None:
            page.screenshot(path=str(shots / f"{size}-{name}.png"), full_page=True)
            sideways = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert sideways <= 1, f"{name} scrolls sideways by {sideways}px at {size}"

        page.goto(admin_link(app, base))
        page.get_by_role("button", name="Sign in").click()
        nav = page.get_by_role("navigation", name="Admin")
        nav.get_by_role("link", name="Contacts", exact=True).click()
        expect(page.get_by_role("heading", name="Contacts")).to_be_visible()
        shot("contacts")

        page.get_by_role("link", name="Invite contacts").click()
        page.get_by_label("Email address").fill("kim@example.com")
        page.get_by_label(re.compile("^Name")).fill("Kim <Site Manager>")
        # The account picker searches on the server: what was typed stays.
        page.get_by_label("Find by name, customer number or source").fill("elm court")
        page.get_by_role("button", name="Search").click()
        expect(page.get_by_label("Email address")).to_have_value("kim@example.com")
        page.get_by_role(
            "checkbox", name=re.compile("^Elm Court site of Alder")
        ).check()
        page.get_by_label(re.compile("Documents only")).check()
        shot("invite")
        page.get_by_role("button", name="Send invitation").click()
        expect(page.get_by_text("Invitation sent to kim@example.com")).to_be_visible()
        expect(page.get_by_role("heading", name="kim@example.com")).to_be_visible()
        shot("contact")

        nav.get_by_role("link", name="Contacts", exact=True).click()
        page.get_by_role("link", name="Invite contacts").click()
        page.get_by_label(re.compile("^CSV file")).set_input_files(str(bulk))
        page.get_by_role("button", name="Upload and invite").click()
        expect(
            page.get_by_role("heading", name="Invitations from wave-1.csv")
        ).to_be_visible()
        expect(
            page.get_by_text("no account has the key or name 'Nowhere Ltd'")
        ).to_be_visible()
        shot("bulk-report")

        nav.get_by_role("link", name="Accounts", exact=True).click()
        row = page.get_by_role("row").filter(has_text="Dogwood Disabled")
        row.get_by_role("button", name=re.compile("Turn on")).click()
        expect(
            page.get_by_text("The portal is on for Dogwood Disabled")
        ).to_be_visible()
        shot("accounts")
        page.get_by_role("link", name="Alder Property Group", exact=True).click()
        expect(page.get_by_text("Contacts invited")).to_be_visible()
        shot("account")

        nav.get_by_role("link", name="Audit log", exact=True).click()
        page.get_by_label("Action").select_option("invite")
        page.get_by_role("button", name="Show").click()
        invite = page.get_by_role("row").filter(
            has_text="Alder Property Group › Elm Court"
        )
        expect(invite.first).to_be_visible()
        expect(page.get_by_role("row").filter(has_text="sign in")).to_have_count(0)
        shot("audit")

        nav.get_by_role("link", name="Contacts", exact=True).click()
        page.get_by_role("link", name="a_parent@example.com").click()
        page.get_by_role("button", name=re.compile("^Preview as")).click()
        expect(page.get_by_text("Preview:")).to_be_visible()
        page.get_by_role("link", name="Invoices", exact=True).click()
        page.get_by_role("link", name="A-100").click()
        send = page.get_by_role("button", name="Send")
        if send.count():
            expect(send.first).to_be_disabled()
        shot("preview-invoice")
        page.get_by_role("button", name="Back to admin").click()
        expect(page.get_by_role("heading", name="a_parent@example.com")).to_be_visible()
        browser.close()
    assert problems == []
    assert len(list(shots.glob("*.png"))) == 8
