"""Issue 11, items 1 and 2, in Chromium: amounts typed into mark paid are read in the
business's locale; "partly paid" shows the balance it leaves before it is recorded; a
mark that would change nothing is refused, saying why."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from portal import create_app
from sync.access import contacts, links
from tests.portal.conftest import free_port
from tests.portal.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.slow


@contextmanager
def served(settings, store, locale: str) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Serve the portal of a business in *locale*; yield an admin's sign-in link."""
    port = free_port()
    business = replace(settings.business, locale=locale)
    settings = replace(settings, base_url=f"http://127.0.0.1:{port}", business=business)
    app = create_app(settings, store=store)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with store.write(ledger=False) as conn:
            admin_id = contacts.ensure_admin(conn, "office@harbor.example")
            token = links.issue_link(
                conn, "admin", admin_id, "office@harbor.example", 15
            )
        yield links.link_url(settings.base_url, token, admin=True)
    finally:
        server.shutdown()
        app.extensions["billfold"].mailer.flush()


def active_marks(store) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return dict(
            conn.execute(
                text(
                    "SELECT number, amount_minor FROM paid_mark JOIN invoice ON "
                    "invoice.id = paid_mark.invoice_id WHERE state = 'active'"
                )
            ).all()
        )


def test_typed_amounts_preview_and_refusals_in_a_real_browser(
    portal_settings, store, world, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        with served(portal_settings, store, "en_US") as link:
            office = browser.new_context(viewport={"width": 1280, "height": 900})
            page = office.new_page()
            page.goto(link)
            page.get_by_role("button", name="Sign in").click()
            base = link.split("/admin/", 1)[0]
            a100 = f"{base}/admin/invoices/{world.invoices['A-100']}"
            page.goto(a100)

            # The amount field belongs to "partly paid" only.
            amount = page.get_by_label(re.compile("^Payment received now"))
            expect(amount).to_be_hidden()
            page.get_by_label("Partly paid: a payment received now").check()
            expect(amount).to_be_visible()

            # en_US: 8,50 is refused with what it could mean, and kept in the field.
            amount.fill("8,50")
            page.get_by_role("button", name="Mark paid").click()
            expect(page.get_by_role("alert")).to_contain_text(
                "could mean 8.50 or 850.00. Did you mean 8.50?"
            )
            expect(amount).to_have_value("8,50")
            expect(
                page.get_by_label("Partly paid: a payment received now")
            ).to_be_checked()
            assert active_marks(store) == {}

            # 40.00 received now: the preview shows the balance it leaves.
            amount.fill("40.00")
            page.get_by_role("button", name="Mark paid").click()
            expect(page.locator("#balance-now")).to_have_text("$100.00")
            expect(page.locator("#balance-after")).to_have_text("$60.00")
            assert active_marks(store) == {}
            page.screenshot(path=str(tmp_path / "preview.png"), full_page=True)

            # The same preview open in a second tab, confirmed after the first: refused.
            stale = office.new_page()
            stale.goto(a100)
            stale.get_by_label("Partly paid: a payment received now").check()
            stale.get_by_label(re.compile("^Payment received now")).fill("40.00")
            stale.get_by_role("button", name="Mark paid").click()
            expect(stale.locator("#balance-after")).to_have_text("$60.00")

            page.get_by_role("button", name="Confirm: record $40.00").click()
            expect(
                page.get_by_text(
                    "Marked paid: $40.00 received, balance now $60.00. "
                    "Customers see it now."
                )
            ).to_be_visible()
            stale.get_by_role("button", name="Confirm: record $40.00").click()
            expect(stale.get_by_role("alert")).to_contain_text(
                "changed since you checked it: $0.00 was settled then, $40.00 is now"
            )
            assert active_marks(store) == {"A-100": 4000}

            # "What was received so far" typed on A1-200 (150.00 of 200.00 settled)
            # used to say "Marked paid" and change nothing: now it is refused.
            page.goto(f"{base}/admin/invoices/{world.invoices['A1-200']}")
            page.get_by_label("Partly paid: a payment received now").check()
            page.get_by_label(re.compile("^Payment received now")).fill("150.00")
            page.get_by_role("button", name="Mark paid").click()
            expect(page.get_by_role("alert")).to_contain_text(
                "$150.00 is more than the open balance of invoice A1-200, $50.00"
            )
            expect(page.get_by_text("Marked paid")).to_have_count(0)
            assert active_marks(store) == {"A-100": 4000}
            office.close()

        # de_DE: 8,50 is eight fifty.
        with served(portal_settings, store, "de_DE") as link:
            office = browser.new_context(viewport={"width": 390, "height": 844})
            page = office.new_page()
            page.goto(link)
            page.get_by_role("button", name="Sign in").click()
            base = link.split("/admin/", 1)[0]
            page.goto(f"{base}/admin/invoices/{world.invoices['B-400']}")
            page.get_by_label("Partly paid: a payment received now").check()
            page.get_by_label(re.compile("^Payment received now")).fill("8,50")
            page.get_by_role("button", name="Mark paid").click()
            expect(page.locator("#received-now")).to_have_text("8,50\u00a0$")
            expect(page.locator("#balance-after")).to_have_text("391,50\u00a0$")
            page.get_by_role("button", name=re.compile("^Confirm: record")).click()
            expect(
                page.get_by_text(
                    "Marked paid: 8,50\u00a0$ received, balance now 391,50"
                )
            ).to_be_visible()
            assert active_marks(store) == {"A-100": 4000, "B-400": 850}
            office.close()
        browser.close()
