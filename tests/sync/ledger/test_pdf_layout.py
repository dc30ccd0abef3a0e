"""Where the text of a PDF lands (positions read back with pypdf): the footer never runs
into the page number, every page says "Page N of M", the title stays clear of the
account block, and a section heading is never left alone at the bottom of a page."""

from __future__ import annotations

import io
import re
from datetime import date

from pypdf import PdfReader
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth

from sync.config import BusinessSettings
from sync.ledger.accounts import resolve_account
from sync.ledger.pdf import _style, statement_pdf
from sync.ledger.statement import build_statement
from tests.helpers import header_without_lines, invoice_row, run_import, write_csv

TODAY = date(2026, 11, 22)
LONG = BusinessSettings(
    name="Harbor Plumbing, Heating & Emergency Drain Services of Greater Portland",
    email="accounts-receivable.department@harbor-plumbing-and-heating.example",
    phone="+1 (207) 555-0142 ext. 3301",
)


def _runs(page) -> list[tuple[str, float, float]]:  # type: ignore[no-untyped-def]
    """(text, x, y) of each piece of text drawn on *page*."""
    runs: list[tuple[str, float, float]] = []

    def visit(text, cm, tm, font, size) -> None:  # type: ignore[no-untyped-def]
        if text.strip():  # the text matrix's origin, through the page's transform
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            runs.append((text.strip(), x, tm[4] * cm[1] + tm[5] * cm[3] + cm[5]))

    page.extract_text(visitor_text=visit)
    return runs


def _statement(store, settings, tmp_path, sites: dict[str, int]):  # type: ignore[no-untyped-def]
    header = [*header_without_lines(), "site", "parent_id"]
    rows = [[*invoice_row("HUB-1", "Hub Co", "25.00", customer_id="HUB"), "", ""]]
    for (
        site,
        count,
    ) in sites.items():  # a site's row: its parent's id and the site's name
        rows += [
            [*invoice_row(f"{site}-{i}", "Hub Co", "10.00", customer_id="HUB",
                          issue_date=f"2025-{1 + i % 12:02d}-{1 + i % 27:02d}"), site, ""]
            for i in range(count)
        ]  # fmt: skip
    run_import(store, settings, write_csv(tmp_path / "hub.csv", header, rows))
    with store.read() as conn:
        account = resolve_account(conn, "HUB")
        return build_statement(conn, account.id, date(2000, 1, 1), TODAY)


def test_footer_never_overprints_the_page_number_and_pages_say_n_of_m(
    store, settings, tmp_path
):
    built = _statement(store, settings, tmp_path, {"North yard": 150})
    pages = PdfReader(io.BytesIO(statement_pdf(built, LONG, TODAY))).pages
    assert len(pages) >= 3
    st = _style(LONG)
    for n, page in enumerate(pages, 1):
        footer = [r for r in _runs(page) if r[2] < 15 * mm]
        [number] = [r for r in footer if r[0].startswith("Page ")]
        assert number[0] == f"Page {n} of {len(pages)}"
        left = [r for r in footer if r is not number]
        assert "".join(t for t, _, _ in left).startswith("Harbor Plumbing, Heating")
        for text, x, _ in left:
            end = x + stringWidth(text, st.regular, 7)
            assert end + 3 * mm <= number[1], (text, end, number[1])


def test_title_is_clear_of_the_account_block(store, settings, tmp_path):
    built = _statement(store, settings, tmp_path, {"North yard": 2})
    runs = _runs(PdfReader(io.BytesIO(statement_pdf(built, LONG, TODAY))).pages[0])
    [title] = [r for r in runs if r[0] == "STATEMENT"]
    first_fact = max(r[2] for r in runs if r[0] == "Account")
    # The title's baseline sits above the first fact's line by more than its size.
    assert title[2] - first_fact >= 15, (title, first_fact)


def test_a_section_heading_is_never_the_last_thing_on_a_page(store, settings, tmp_path):
    # Sites of many sizes so that headings fall at every height of a page.
    sizes = {f"Site {i:02d}": 3 + (i * 7) % 23 for i in range(24)}
    built = _statement(store, settings, tmp_path, sizes)
    pages = PdfReader(io.BytesIO(statement_pdf(built, LONG, TODAY))).pages
    assert len(pages) >= 4
    heading = re.compile(r"(Site \d\d|Hub Co).*· USD$")
    for n, page in enumerate(pages, 1):
        body = [r for r in _runs(page) if r[2] > 15 * mm]
        lowest = min(body, key=lambda r: r[2])
        assert not heading.search(lowest[0]), (n, lowest)


def test_a_grid_gives_reportlab_the_row_heights_it_would_measure(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The grid sizes its rows itself (a long statement's quarter of a second): the
    heights must be exactly reportlab's, or rows would overlap or gape."""
    from sync.ledger import pdf

    st = _style(BusinessSettings(name="Grid Co"))
    data = [
        ["Date", "Reference", "Description", "Amount", "Balance"],
        ["01 Jan 2025", "INV-1", "one line", "£1.00", "£1.00"],
        ["02 Jan 2025", "INV-2\nwrapped", "three\nlines\nhere", "£2.00", "£3.00"],
        ["03 Jan 2025", "", "", "", ""],
    ]
    widths = [60.0, 90.0, 200.0, 70.0, 70.0]
    given = pdf._grid(data, widths, st, numeric_from=3, bold_rows=[1, 3])
    monkeypatch.setattr(pdf, "_row_heights", lambda _data: None)  # reportlab measures
    measured = pdf._grid(data, widths, st, numeric_from=3, bold_rows=[1, 3])
    assert measured._argH == [None] * len(data)
    for table in (given, measured):
        table.wrap(500, 800)
    assert given._rowHeights == measured._rowHeights
    assert given._argH[2] > given._argH[1]  # a three-line row is taller


def test_a_kept_subset_font_draws_the_same_bytes_and_every_character(
    store, settings, tmp_path, monkeypatch
):  # type: ignore[no-untyped-def]
    """Subset fonts are built once per process (``keep_subsets``): a document drawn
    with a kept subset is byte for byte the one drawn with a fresh font, and one with
    other characters gets its own subset, not a kept one that lacks them."""
    from reportlab import rl_config

    from sync.ledger.pdf.fonts import fonts

    monkeypatch.setattr(rl_config, "invariant", 1)  # no creation time, no random id
    built = _statement(store, settings, tmp_path, {"North yard": 3})
    accented = BusinessSettings(name="Łódź Ørsted Ærø Café Ñandú")
    fonts.cache_clear()  # fresh fonts: nothing kept yet
    fresh = statement_pdf(built, LONG, TODAY)
    assert statement_pdf(built, LONG, TODAY) == fresh
    text = PdfReader(io.BytesIO(statement_pdf(built, accented, TODAY))).pages[0]
    assert "Łódź Ørsted Ærø Café Ñandú" in text.extract_text()
    assert statement_pdf(built, LONG, TODAY) == fresh
