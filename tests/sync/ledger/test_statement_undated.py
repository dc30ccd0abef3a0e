"""Settlement an export reports without a date (issue 11, item 5).

An invoice list (or a Xero CSV) says an invoice is paid but not when. A statement dates
that settlement on the day an export first reported it; for a period that ends before
that day the invoice is neither open nor late but "paid (date not in the export), first
reported DATE", and every format says so in a note.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, date, datetime

from pypdf import PdfReader
from sqlalchemy import select

from schemas.tables import INVOICES
from sync.config import BusinessSettings
from sync.ledger.accounts import resolve_account
from sync.ledger.pdf import statement_pdf
from sync.ledger.statement import build_statement
from sync.ledger.statement_output import statement_csv, statement_json
from tests.helpers import header_without_lines, invoice_row, run_import, write_csv

I = INVOICES  # noqa: E741


def export(tmp_path, name, rows, read_on: date):  # type: ignore[no-untyped-def]
    """An invoice list with no payment records, written (and so read as of) *read_on*."""
    path = write_csv(tmp_path / name, header_without_lines(), rows)
    moment = datetime(read_on.year, read_on.month, read_on.day, 12, tzinfo=UTC)
    os.utime(path, (moment.timestamp(), moment.timestamp()))
    return path


def statement(store, start, end):  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return build_statement(conn, resolve_account(conn, "List Co").id, start, end)


def ledger_of(built):  # type: ignore[no-untyped-def]
    return statement_json(built)["sections"][0]["currencies"][0]


def test_a_period_before_the_first_report_shows_the_invoice_paid_not_late(
    store, settings, tmp_path
):
    rows = [
        # Issued 3 Mar, due 2 Apr; the export read on 15 Jun says it is paid.
        invoice_row(
            "U1", "List Co", "100.00", amount_paid="100.00", balance_due="0.00"
        ),
        invoice_row("U2", "List Co", "80.00", amount_paid="30.00", balance_due="50.00"),
    ]
    run_import(store, settings, export(tmp_path, "list.csv", rows, date(2025, 6, 15)))
    before = statement(store, date(2025, 1, 1), date(2025, 5, 31))
    ledger = ledger_of(before)
    # Not open, not 59 days late: what is paid on no known day is listed apart.
    assert [(o["number"], o["open"]) for o in ledger["open_invoices"]] == [
        ("U2", "50.00")
    ]
    assert ledger["aging"]["31-60"] == "50.00"
    assert [
        (u["number"], u["amount"], u["first_reported"], u["note"])
        for u in ledger["paid_date_not_in_export"]
    ] == [
        ("U1", "100.00", "2025-06-15", "paid (date not in the export), first reported 15 Jun 2025"),
        ("U2", "30.00", "2025-06-15", "paid (date not in the export), first reported 15 Jun 2025"),
    ]  # fmt: skip
    # The closing balance still holds it: the cash is on the statement from 15 Jun.
    assert ledger["closing_balance"] == "180.00"
    assert ledger["unmatched_credits"] == "0.00"
    data = statement_json(before)
    [note] = data["notes"]
    assert "exports say some invoices were paid (or credit was used) without" in note
    assert data["totals"]["USD"]["paid_date_not_in_export"] == "130.00"

    # The CSV has a row per such invoice and the note; the PDF and the text say it too.
    parsed = list(
        csv.DictReader(io.StringIO(statement_csv(before).decode("utf-8-sig")))
    )
    undated = [r for r in parsed if r["type"] == "paid_date_not_in_export"]
    assert [(r["reference"], r["amount"]) for r in undated] == [
        ("U1", "100.00"),
        ("U2", "30.00"),
    ]
    assert [r["description"] for r in parsed if r["type"] == "note"] == [note]
    pdf = statement_pdf(before, BusinessSettings(), date(2025, 6, 1))
    text = " ".join(
        " ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages
    )
    assert "paid (date not in the export), first reported 15 Jun 2025" in text
    assert "Note: The billing system's exports say some invoices were paid" in text

    after = ledger_of(statement(store, date(2025, 1, 1), date(2025, 6, 30)))
    paid = [x for x in after["lines"] if x["type"] == "reported_payment"]
    assert [(x["reference"], x["date"], x["date_in_export"]) for x in paid] == [
        ("U1", "2025-06-15", False),
        ("U2", "2025-06-15", False),
    ]
    assert (
        "U1: paid (date not in the export), first reported 15 Jun 2025"
        in (paid[0]["description"])
    )
    assert after["paid_date_not_in_export"] == []
    assert after["closing_balance"] == "50.00"


def test_the_first_report_stays_while_exports_repeat_it_and_moves_when_it_grows(
    store, settings, tmp_path
):
    def send(name, read_on, balance, memo):  # type: ignore[no-untyped-def]
        row = invoice_row("G1", "List Co", "100.00", balance_due=balance, memo=memo)
        result = run_import(store, settings, export(tmp_path, name, [row], read_on))
        assert result.status == "applied", result

    def first_reported():  # type: ignore[no-untyped-def]
        lines = ledger_of(statement(store, date(2025, 1, 1), date(2025, 12, 31)))[
            "lines"
        ]
        return [(x["date"], x["amount"]) for x in lines if x["type"] != "invoice"]

    send("a.csv", date(2025, 6, 15), "60.00", "first")
    assert first_reported() == [("2025-06-15", "-40.00")]
    # A later export repeats the same settlement (the invoice changed otherwise).
    send("b.csv", date(2025, 7, 15), "60.00", "second")
    assert first_reported() == [("2025-06-15", "-40.00")]
    # More is paid: the settlement is reported anew.
    send("c.csv", date(2025, 8, 15), "0.00", "third")
    assert first_reported() == [("2025-08-15", "-100.00")]
    with store.read() as conn:
        row = conn.execute(
            select(I.c.reported_settled_minor, I.c.settled_first_reported_on)
        ).one()
    assert tuple(row) == (10000, date(2025, 8, 15))
    # A period ending between the reports: the invoice was paid on no known day.
    ledger = ledger_of(statement(store, date(2025, 1, 1), date(2025, 7, 31)))
    assert ledger["open_invoices"] == []
    assert [u["first_reported"] for u in ledger["paid_date_not_in_export"]] == [
        "2025-08-15"
    ]


def test_a_dated_version_reports_on_its_own_day(store, settings, tmp_path):
    row = invoice_row(
        "D1", "List Co", "100.00", balance_due="0.00", updated_at="2025-04-20T09:00:00Z"
    )
    run_import(store, settings, export(tmp_path, "d.csv", [row], date(2025, 6, 15)))
    lines = ledger_of(statement(store, date(2025, 1, 1), date(2025, 12, 31)))["lines"]
    assert [(x["type"], x["date"]) for x in lines] == [
        ("invoice", "2025-03-03"),
        ("reported_settlement", "2025-04-20"),
    ]


def test_a_store_from_before_the_migration_keeps_its_settlement_dates(
    store, settings, tmp_path
):
    from alembic import command

    from sync.store.migrate import alembic_config, upgrade

    rows = [
        invoice_row("M1", "List Co", "100.00", balance_due="40.00",
                    updated_at="2025-05-05T10:00:00Z"),
        invoice_row("M2", "List Co", "50.00", status="void"),
    ]  # fmt: skip
    run_import(store, settings, export(tmp_path, "m.csv", rows, date(2025, 6, 15)))
    config = alembic_config(store)
    try:
        with store.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0007_account_names_to_confirm")
    finally:
        upgrade(store)
    with store.read() as conn:
        found = conn.execute(
            select(
                I.c.number, I.c.reported_settled_minor, I.c.settled_first_reported_on
            ).order_by(I.c.number)
        ).all()
    assert [tuple(r) for r in found] == [
        ("M1", 6000, date(2025, 5, 5)),
        ("M2", None, None),
    ]
