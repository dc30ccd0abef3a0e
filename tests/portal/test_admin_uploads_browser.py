"""End to end in Chromium: uploads land in the source they continue; one that would add
customers named like another source's waits for the office to confirm; a file no
source continues asks which source."""

from __future__ import annotations

import re
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from portal import create_app
from schemas.tables import ACCOUNTS, IMPORT_BATCHES
from sync.access import contacts, links
from sync.config import SourceSettings
from sync.engine.pipeline import import_file
from tests.conftest import SAMPLES
from tests.helpers import header_without_lines, invoice_row, write_csv
from tests.portal.conftest import free_port
from tests.portal.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.slow

A = ACCOUNTS
B = IMPORT_BATCHES
INVOICES = SAMPLES / "xero_csv" / "harbor_sales_invoices.csv"
CREDIT_NOTES = SAMPLES / "xero_csv" / "harbor_credit_notes.csv"


def later_export(path: Path) -> Path:
    """A later Xero export of the same organisation: new invoice numbers, same customers."""
    text = INVOICES.read_text(encoding="utf-8")
    path.write_text(text.replace(",INV-10", ",INV-20"), encoding="utf-8")
    return path


def accounts(store, name: str) -> list[str]:
    with store.read() as conn:
        return sorted(
            conn.execute(select(A.c.source).where(A.c.name == name)).scalars()
        )


def test_uploads_choose_their_source_and_namesakes_need_a_yes(
    portal_settings, store, tmp_path
):
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM}"
    port = free_port()
    settings = replace(
        portal_settings,
        base_url=f"http://127.0.0.1:{port}",
        sources=(SourceSettings(name="xero", path=str(tmp_path / "inbox")),),
    )
    assert import_file(store, settings, INVOICES, source="xero").status == "applied"
    app = create_app(settings, store=store)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    later = later_export(tmp_path / "xero-july.csv")
    new = write_csv(
        tmp_path / "jobs.csv",
        header_without_lines(),
        [invoice_row("J-1", "Harbor Fish Co", "40.00")],
    )
    with store.write(ledger=False) as conn:
        admin_id = contacts.ensure_admin(conn, "office@harbor.example")
        link = links.link_url(
            settings.base_url,
            links.issue_link(conn, "admin", admin_id, "office@harbor.example", 15),
            admin=True,
        )
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            office = browser.new_context(
                viewport={"width": 1280, "height": 900}
            ).new_page()
            nav = office.get_by_role("navigation", name="Admin")
            office.goto(link)
            office.get_by_role("button", name="Sign in").click()
            nav.get_by_role("link", name="Imports", exact=True).click()

            # 1. The default: the source the file continues.
            source = office.get_by_label("Source").first
            expect(source).to_have_value("")
            office.get_by_label(re.compile("^File")).set_input_files(str(CREDIT_NOTES))
            office.get_by_role("button", name="Import").click()
            expect(
                office.get_by_role("heading", name=re.compile("harbor_credit_notes"))
            ).to_be_visible()
            expect(office.get_by_text("Source xero chosen")).to_be_visible()
            assert accounts(store, "Pinecrest HOA") == ["xero"]

            # 2. Into another source by hand: held, listed, applied only on a yes.
            nav.get_by_role("link", name="Imports", exact=True).click()
            office.get_by_label(re.compile("^File")).set_input_files(str(later))
            office.get_by_label("Source").first.select_option("upload")
            office.get_by_role("button", name="Import").click()
            expect(
                office.get_by_role(
                    "heading", name="Confirm: customers billfold may already have"
                )
            ).to_be_visible()
            listed = office.locator("ul.namesakes li")
            expect(listed).to_have_count(7)  # every customer of the file
            expect(listed.first).to_have_text("Bayview Café (also in xero)")
            office.screenshot(path=str(tmp_path / "confirm.png"), full_page=True)
            assert accounts(store, "Bayview Café") == ["xero"]
            office.get_by_role("button", name="Import anyway").click()
            expect(office.get_by_text("Published: 14 new")).to_be_visible()
            assert accounts(store, "Bayview Café") == ["upload", "xero"]

            # 3. Nothing continues: billfold asks.
            nav.get_by_role("link", name="Imports", exact=True).click()
            office.get_by_label(re.compile("^File")).set_input_files(str(new))
            office.get_by_role("button", name="Import").click()
            expect(
                office.get_by_role(
                    "heading", name="Which source does jobs.csv continue?"
                )
            ).to_be_visible()
            office.get_by_label("Source").select_option("upload")
            office.get_by_role("button", name="Import").click()
            expect(
                office.get_by_role("heading", name=re.compile("jobs.csv"))
            ).to_be_visible()
            browser.close()
    finally:
        server.shutdown()
    with store.read() as conn:
        jobs = conn.execute(select(B).where(B.c.file_name == "jobs.csv")).one()
    assert (jobs.source, jobs.status) == ("upload", "applied")
