"""Statements: invariants against balances, periods that chain, sites, CSV and PDF."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from sync.config import BusinessSettings
from sync.ledger.accounts import resolve_account
from sync.ledger.balances import balances
from sync.ledger.pdf import statement_pdf
from sync.ledger.statement import build_statement
from sync.ledger.statement_output import statement_csv, statement_json
from tests.conftest import SAMPLES
from tests.helpers import (
    SAMPLE_LEDGER,
    header_without_lines,
    invoice_row,
    run_import,
    write_csv,
)

EARLY, TODAY = date(2000, 1, 1), date(2026, 11, 22)


def _statement(store, key, start=EARLY, end=TODAY):
    with store.read() as conn:
        return build_statement(conn, resolve_account(conn, key).id, start, end)


def _money(text):
    return Decimal(text) if text is not None else None


def test_closing_balance_equals_the_net_balance_of_every_account(store, settings):
    run_import(store, settings, SAMPLE_LEDGER)
    with store.read() as conn:
        expected = {b["account"]: b for b in balances(conn)}
    for name, b in expected.items():
        data = statement_json(_statement(store, name))
        [section] = data["sections"]
        [ledger] = section["currencies"]
        assert _money(ledger["closing_balance"]) == _money(b["net_balance"]), name
        lines = sum(Decimal(line["amount"]) for line in ledger["lines"])
        assert _money(ledger["opening_balance"]) + lines == _money(
            ledger["closing_balance"]
        )
        # Open invoices age into buckets; what is left is credit and cash not yet matched.
        aged = sum(Decimal(v) for v in ledger["aging"].values())
        assert aged == _money(b["balance_due"]), name
        assert _money(ledger["unmatched_credits"]) == -(
            _money(b["remaining_credit"]) + _money(b["unapplied_payments"])
        ), name


def test_periods_chain(store, settings):
    run_import(store, settings, SAMPLE_LEDGER)
    first = statement_json(_statement(store, "C2", EARLY, date(2025, 4, 30)))
    second = statement_json(_statement(store, "C2", date(2025, 5, 1), TODAY))
    a = first["sections"][0]["currencies"][0]
    b = second["sections"][0]["currencies"][0]
    assert a["closing_balance"] == b["opening_balance"] == "721.15"
    assert [line["reference"] for line in b["lines"]] == ["1014", "20931"]
    assert b["closing_balance"] == "281.15"


def test_aging_as_of_the_end_date(store, settings):
    run_import(store, settings, SAMPLE_LEDGER)
    data = statement_json(_statement(store, "Bayview Café", EARLY, date(2025, 8, 15)))
    ledger = data["sections"][0]["currencies"][0]
    by_number = {o["number"]: o for o in ledger["open_invoices"]}
    # 1004 due 2025-05-02 is 105 days late; 1012 due 2025-07-10 is 36 days late.
    assert (by_number["1004"]["open"], by_number["1004"]["bucket"]) == ("428.20", "90+")
    assert (by_number["1012"]["days_past_due"], by_number["1012"]["bucket"]) == (
        36,
        "31-60",
    )
    assert ledger["aging"] == {
        "current": "0.00",
        "1-30": "0.00",
        "31-60": "380.00",
        "61-90": "0.00",
        "90+": "428.20",
    }


def test_an_invoice_paid_after_the_end_date_is_still_open_at_the_end(store, settings):
    run_import(store, settings, SAMPLE_LEDGER)
    data = statement_json(
        _statement(store, "Maple Street Dental", EARLY, date(2025, 3, 20))
    )
    ledger = data["sections"][0]["currencies"][0]
    assert [o["number"] for o in ledger["open_invoices"]] == ["1001"]
    assert ledger["closing_balance"] == "2060.40"


def test_a_parent_statement_has_a_section_per_site_and_per_currency(store, settings):
    run_import(store, settings, SAMPLES / "generic" / "multi_site.csv")
    data = statement_json(_statement(store, "PM1"))
    sections = [
        (s["account"], [c["currency"] for c in s["currencies"]])
        for s in data["sections"]
    ]
    assert sections == [
        ("Northgate Property Management", ["USD"]),
        ("12 Elm Street", ["USD"]),
        ("45 Park Avenue", ["USD"]),
        ("Harbourside Lofts", ["EUR"]),
    ]
    assert data["totals"]["USD"]["closing_balance"] == "1580.40"
    assert data["totals"]["EUR"]["closing_balance"] == "880.00"


def test_exports_without_payment_records_report_cash_per_invoice(
    store, settings, tmp_path
):
    rows = [
        invoice_row(
            "R1", "Reported Co", "100.00", amount_paid="60.00", balance_due="40.00"
        ),
        invoice_row("R2", "Reported Co", "50.00", balance_due="0.00"),
    ]
    run_import(
        store, settings, write_csv(tmp_path / "r.csv", header_without_lines(), rows)
    )
    # Reported cash is dated when the export was read, so the period runs to today.
    data = statement_json(_statement(store, "Reported Co", end=date.today()))
    ledger = data["sections"][0]["currencies"][0]
    kinds = [(line["type"], line["amount"]) for line in ledger["lines"]]
    assert ("reported_payment", "-60.00") in kinds
    assert ("reported_settlement", "-50.00") in kinds
    assert ledger["closing_balance"] == "40.00"


HOSTILE = '=HYPERLINK("http://evil.example","x")'


def test_csv_neutralises_formulas_and_keeps_amounts(store, settings, tmp_path):
    rows = [invoice_row(HOSTILE, "@Hostile Co", "10.00", memo="-1+1")]
    run_import(
        store, settings, write_csv(tmp_path / "h.csv", header_without_lines(), rows)
    )
    data = statement_csv(_statement(store, "@Hostile Co"))
    assert data.startswith(b"\xef\xbb\xbf")
    parsed = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    line = next(r for r in parsed if r["type"] == "invoice")
    assert line["reference"] == "'" + HOSTILE
    assert line["account"] == "'@Hostile Co"
    assert line["amount"] == "10.00"
    text_cells = [
        v for r in parsed for k, v in r.items() if k not in ("amount", "balance")
    ]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in text_cells)
    closing = next(r for r in parsed if r["type"] == "closing_balance")
    assert closing["balance"] == "10.00"


def test_pdf_is_a_statement_a_person_can_read(store, settings, tmp_path):
    rows = [
        invoice_row(
            "H1",
            "O’Brien <script>alert(1)</script>",
            "1234.50",
            memo="<b>bold?</b> & more",
        )
    ]
    run_import(
        store, settings, write_csv(tmp_path / "h.csv", header_without_lines(), rows)
    )
    business = BusinessSettings(
        name="Harbor Plumbing & Heating",
        email="office@harbor.example",
        phone="555-0100",
    )
    pdf = statement_pdf(
        _statement(store, "O’Brien <script>alert(1)</script>"), business, TODAY
    )
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Harbor Plumbing & Heating" in text
    assert "STATEMENT" in text
    assert "O’Brien <script>alert(1)</script>" in text
    assert "<b>bold?</b> & more" in text
    assert "$1,234.50" in text
    assert "Closing balance" in text


def test_pdf_of_a_long_statement_repeats_headings_on_every_page(
    store, settings, tmp_path
):
    rows = [
        invoice_row(
            f"L{i:03d}",
            "Busy Co",
            "10.00",
            issue_date=f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}",
        )
        for i in range(240)
    ]
    run_import(
        store, settings, write_csv(tmp_path / "l.csv", header_without_lines(), rows)
    )
    pdf = statement_pdf(_statement(store, "Busy Co"), BusinessSettings(), TODAY)
    pages = PdfReader(io.BytesIO(pdf)).pages
    assert len(pages) >= 4
    # Each page starts with the column headings of whichever table runs across it.
    assert all(
        ("Description" in p.extract_text()) or ("Days late" in p.extract_text())
        for p in pages[1:]
    )
    assert (
        "$2,400.00" in pages[-1].extract_text()
        or "$2,400.00" in pages[0].extract_text()
    )


@pytest.mark.parametrize("fmt", ["json", "csv", "pdf", "text"])
def test_statement_command(store, settings, tmp_path, fmt):
    from sync.cli import main

    run_import(store, settings, SAMPLE_LEDGER)
    config = tmp_path / "c.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\ndatabase_url = "{settings.resolved_database_url}"\n'
    )
    out = tmp_path / f"statement.{fmt}"
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "statement",
            "Pinecrest HOA",
            "--from",
            "2025-01-01",
            "--to",
            "2025-06-30",
            "--format",
            fmt,
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    if fmt == "json":
        assert json.loads(data)["totals"]["USD"]["closing_balance"] == "-75.00"
    elif fmt == "csv":
        assert b"closing_balance" in data and b"-75.00" in data
    elif fmt == "pdf":
        assert (
            data.startswith(b"%PDF")
            and "-$75.00" in PdfReader(io.BytesIO(data)).pages[0].extract_text()
        )
    else:
        assert "Closing balance" in data.decode() and "-$75.00" in data.decode()


def test_statement_command_rejects_a_backwards_period(store, settings, tmp_path):
    from sync.cli import main

    config = tmp_path / "c.toml"
    config.write_text(
        f'data_dir = "{settings.data_dir}"\ndatabase_url = "{settings.resolved_database_url}"\n'
    )
    result = CliRunner().invoke(
        main,
        [
            "--config",
            str(config),
            "statement",
            "x",
            "--from",
            "2025-02-01",
            "--to",
            "2025-01-01",
        ],
    )
    assert result.exit_code == 2


def test_long_cell_text_wraps_inside_its_column_and_stays_literal(settings):
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth

    from sync.ledger.pdf import _cell, _style

    st = _style(settings.business)
    text = "<b>Boiler</b> replaced at the rear unit " * 4 + "X" * 120 + "\nsecond line"
    lines = _cell(text, st, 40 * mm).split("\n")
    assert len(lines) > 5
    assert all(stringWidth(x, st.regular, 8.5) <= 40 * mm - 12 for x in lines)
    assert "".join(lines).replace(" ", "") == text.replace("\n", "").replace(" ", "")
    assert lines[0].startswith("<b>Boiler</b>")
