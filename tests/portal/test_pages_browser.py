"""Every customer and admin page in Chromium at 320, 390 and 1280 px: axe-core finds no
WCAG 2.2 A/AA violation, nothing scrolls sideways, and every primary control (nav links,
buttons, form fields, checkboxes and radios with their labels, links in lists) is at
least 44 x 44 px. A screenshot of every page at every size is written to
test-artifacts/screenshots/ (CI keeps the folder) for a person to look at.
Chromium must be installed; without it this test fails, it never skips.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from werkzeug.serving import make_server

from adapters.errors import FileRejected
from portal import create_app
from schemas.tables import ImportBatch, Payment, utcnow
from sync.access import contacts, links
from tests.portal.conftest import free_port
from tests.portal.test_browser import ARGS, CHROMIUM

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WIDTHS = (320, 390, 1280)
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
# What a thumb must hit: boxes under 44 px in either direction are listed.
SMALL_TARGETS = """() => {
  const out = [];
  const seen = new Set();
  const picks = document.querySelectorAll(
    "nav a, header a, header button, main button, main .button, main select, " +
    "main input:not([type=hidden]), main .list td a, main .pager a, main .presets a");
  for (const el of picks) {
    let box = el;
    if (el.matches("input[type=checkbox], input[type=radio]")) box = el.closest("label") || el;
    if (seen.has(box)) continue;
    seen.add(box);
    const r = box.getBoundingClientRect();
    const style = getComputedStyle(box);
    if (r.width === 0 || style.visibility === "hidden" || box.closest("[hidden]")) continue;
    if (r.width < 43.5 || r.height < 43.5)
      out.push(`${box.tagName} "${(box.textContent || box.name || "").trim().slice(0, 30)}" ` +
               `${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  return out;
}"""
WIDE = "() => document.scrollingElement.scrollWidth - window.innerWidth"


def _pages(app, world) -> tuple[list[str], list[str]]:  # type: ignore[no-untyped-def]
    store = app.extensions["billfold"].store
    with store.read() as conn:
        payment = conn.execute(
            select(Payment.__table__.c.id).where(  # type: ignore[attr-defined]
                Payment.__table__.c.account_id == world.accounts["A:Oak Plaza"]  # type: ignore[attr-defined]
            )
        ).scalar_one()
        batch = conn.execute(
            select(ImportBatch.__table__.c.id).limit(1)  # type: ignore[attr-defined]
        ).scalar_one()
    rejected, duplicate = _office_batches(app, batch)
    customer = [
        "/", "/invoices", "/invoices?status=open&sort=balance",
        f"/invoices/{world.invoices['A1-200']}", f"/invoices/{world.invoices['A-100']}",
        "/credit-notes", f"/credit-notes/{world.credit_notes['CN-A1']}", "/payments",
        f"/payments/{payment}", "/statements", "/statements?from=2025-01-01",
        "/documents", "/notices",
    ]  # fmt: skip
    admin = [
        "/admin/", "/admin/imports", f"/admin/imports/{batch}", "/admin/invoices",
        f"/admin/invoices/{world.invoices['A1-200']}", "/admin/conflicts",
        "/admin/claims", "/admin/documents", "/admin/contacts",
        f"/admin/contacts/{world.contacts['a_parent']}", "/admin/contacts/invite",
        "/admin/accounts", f"/admin/accounts/{world.accounts['A']}", "/admin/audit",
        "/admin/marks/bulk", "/admin/notices", "/admin/receivables",
        f"/admin/imports/{rejected}", f"/admin/imports/{duplicate}",
        f"/admin/contacts/{world.contacts['b_user']}/revoke/confirm",
        f"/admin/contacts/{world.contacts['revoked_user']}",
        "/admin/contacts/invite?find=alder",
        f"/admin/contacts/{world.contacts['b_user']}?find=o",
    ]  # fmt: skip
    return customer, admin


def _office_batches(app, batch: int) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """A file rejected whole (with where and what) and a duplicate of *batch*."""
    table = ImportBatch.__table__  # type: ignore[attr-defined]
    reason = str(
        FileRejected(
            "missing required column(s) total; the header has 'Invoice', 'Customer "
            "name that goes on and on', 'Date'. Rename the columns or map them under "
            "[sources.columns] in the config",
            line=1,
            column="Customer name that goes on and on",
            value="<script>alert(1)</script>",
        )
    )
    with app.extensions["billfold"].store.write() as conn:
        made = [
            conn.execute(
                insert(table).values(
                    source="books", file_name=name, sha256=sha * 64, size=120,
                    status=status, reason=why, duplicate_of_id=of, started_at=utcnow(),
                    finished_at=utcnow(),
                ).returning(table.c.id)
            ).scalar_one()
            for name, sha, status, why, of in (
                ("invoices-march-with-a-long-file-name-2026.csv", "c", "rejected",
                 reason, None),
                ("ledger (1).csv", "d", "duplicate", None, batch),
            )
        ]  # fmt: skip
    return made[0], made[1]


def _name(path: str) -> str:
    return (
        path.strip("/").replace("/", "-").replace("?", "-").replace("&", "-") or "home"
    )


def test_every_page_at_phone_and_desktop_sizes(portal_settings, store, world):
    from axe_playwright_python.sync_playwright import Axe
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium is not installed at {CHROMIUM}"
    port = free_port()
    settings = replace(
        portal_settings,
        base_url=f"http://127.0.0.1:{port}",
        business=replace(
            portal_settings.business,
            remit_to="PO Box 12, Portland, ME 04101",
            bank_details="Harbor Bank, routing 011000015, account 1234567",
        ),
    )
    app = create_app(settings, store=store)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = settings.base_url
    customer, admin = _pages(app, world)
    with store.write(ledger=False) as conn:
        admin_id = contacts.ensure_admin(conn, "office@harbor.example")
        contact = contacts.find_contact(conn, "a_parent@example.com")
        sign_ins = {
            "customer": links.link_url(
                base, links.issue_link(conn, "contact", contact["id"], contact["email"], 15)
            ),
            "admin": links.link_url(
                base,
                links.issue_link(conn, "admin", admin_id, "office@harbor.example", 15),
                admin=True,
            ),
        }  # fmt: skip
    SHOTS.mkdir(parents=True, exist_ok=True)
    axe = Axe()
    problems: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            for who, paths in (("customer", customer), ("admin", admin)):
                context = browser.new_context(
                    viewport={"width": 1280, "height": 900}, bypass_csp=True
                )
                page = context.new_page()
                page.goto(sign_ins[who])
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_load_state()
                for width in WIDTHS:
                    page.set_viewport_size({"width": width, "height": 800})
                    for path in ["/sign-in"] * (who == "customer") + paths:
                        response = page.goto(base + path)
                        assert response is not None and response.status == 200, path
                        where = f"{who} {path} at {width} px"
                        if (extra := page.evaluate(WIDE)) > 0:
                            problems.append(f"{where}: scrolls sideways by {extra} px")
                        for small in page.evaluate(SMALL_TARGETS):
                            problems.append(f"{where}: small target {small}")
                        result = axe.run(
                            page,
                            options={"runOnly": {"type": "tag", "values": AXE_TAGS}},
                        )
                        if result.violations_count:
                            problems.append(f"{where}: {result.generate_report()}")
                        page.screenshot(
                            path=str(SHOTS / f"{who}-{_name(path)}-{width}.png"),
                            full_page=True,
                        )
                context.close()
            browser.close()
    finally:
        server.shutdown()
        app.extensions["billfold"].mailer.flush()
    assert not problems, "\n".join(problems)
