"""End to end in Chromium: the office uploads an export, reads the batch page, marks an
invoice paid; the customer then sees it paid."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from portal import create_app
from sync.access import contacts, links
from tests.helpers import header_without_lines, invoice_row, write_csv
from tests.portal.conftest import free_port
from tests.portal.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.slow


def test_upload_batch_page_mark_paid_customer_sees_it_paid(
    portal_settings, store, world, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM}"
    port = free_port()
    settings = replace(portal_settings, base_url=f"http://127.0.0.1:{port}")
    app = create_app(settings, store=store)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = settings.base_url
    export = write_csv(
        tmp_path / "june.csv",
        [*header_without_lines(), "parent_id"],
        [[*invoice_row("A-777", "Alder Property Group", "640.00", customer_id="A", due_date="2099-01-31"), ""],
         [*invoice_row("A-778", "Alder Property Group", "oops", customer_id="A"), ""]],
    )  # fmt: skip
    with store.write(ledger=False) as conn:
        admin_id = contacts.ensure_admin(conn, "office@harbor.example")
        admin_link = links.link_url(
            base,
            links.issue_link(conn, "admin", admin_id, "office@harbor.example", 15),
            admin=True,
        )
        contact = contacts.find_contact(conn, "a_parent@example.com")
        customer_link = links.link_url(
            base,
            links.issue_link(conn, "contact", contact["id"], contact["email"], 15),
        )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            office = browser.new_context(
                viewport={"width": 1280, "height": 900}
            ).new_page()
            office.goto(admin_link)
            office.get_by_role("button", name="Sign in").click()
            expect(
                office.get_by_role("heading", name=re.compile("billfold admin"))
            ).to_be_visible()
            office.get_by_role("link", name="Imports", exact=True).click()
            office.get_by_label(re.compile("^File")).set_input_files(str(export))
            office.get_by_label("Source").first.select_option("books")
            office.get_by_role("button", name="Import").click()
            expect(
                office.get_by_role("heading", name=re.compile("june.csv"))
            ).to_be_visible()
            expect(office.get_by_text("expected an amount such as")).to_be_visible()
            office.screenshot(path=str(tmp_path / "batch.png"), full_page=True)

            office.get_by_role("link", name="Invoices", exact=True).click()
            office.get_by_label("Number, reference or customer").fill("A-777")
            office.get_by_role("button", name="Find").click()
            office.get_by_role("link", name="A-777").click()
            office.get_by_label("Reference").fill("cheque 5521")
            office.get_by_role("button", name="Mark paid").click()
            expect(
                office.get_by_text("Marked paid. Customers see it now.")
            ).to_be_visible()

            customer = browser.new_context(
                viewport={"width": 390, "height": 844}
            ).new_page()
            customer.goto(customer_link)
            customer.get_by_role("button", name="Sign in").click()
            customer.get_by_role("link", name="Invoices", exact=True).click()
            row = customer.get_by_role("row").filter(has_text="A-777")
            expect(row.get_by_text("Paid", exact=True)).to_be_visible()
            browser.close()
    finally:
        server.shutdown()
