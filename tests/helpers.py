"""Small helpers shared by tests: write exports, import them, dump the ledger."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from schemas.money import to_text
from schemas.tables import ACCOUNTS
from sync.config import Settings
from sync.engine.batch import ImportResult
from sync.engine.pipeline import import_file
from sync.ledger.balances import balances
from sync.ledger.statement import build_statement
from sync.store import Store

BUSINESS_TABLES = (
    "account",
    "invoice",
    "invoice_line",
    "credit_note",
    "credit_note_line",
    "payment",
    "allocation",
    "paid_mark",
    "document",
    "contact",
    "access_grant",
)

GENERIC_HEADER = [
    "record_type", "number", "customer_id", "customer_name", "customer_email",
    "issue_date", "due_date", "currency", "status", "subtotal", "tax", "total",
    "amount_paid", "amount_credited", "balance_due", "applies_to", "payment_method",
    "line_no", "line_description", "line_quantity", "line_unit_price", "line_amount",
    "line_tax", "memo", "updated_at",
]  # fmt: skip


def write_csv(
    path: Path, header: list[str], rows: list[list[Any]], encoding: str = "utf-8"
) -> Path:
    """Write a CSV export the way billing tools do (CRLF-free, minimal quoting)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def invoice_row(number: str, customer: str, total: str, /, **kw: Any) -> list[Any]:
    """One-row-per-invoice generic CSV row over GENERIC_HEADER (no line columns used)."""
    values = {
        "record_type": "invoice",
        "number": number,
        "customer_name": customer,
        "issue_date": "2025-03-03",
        "due_date": "2025-04-02",
        "currency": "USD",
        "total": total,
        "balance_due": total,
    }
    values.update(kw)
    return [values.get(h, "") for h in GENERIC_HEADER if not h.startswith("line_")]


def header_without_lines() -> list[str]:
    return [h for h in GENERIC_HEADER if not h.startswith("line_")]


def run_import(store: Store, settings: Settings, path: Path, **kw: Any) -> ImportResult:
    return import_file(store, settings, path, **kw)


def golden_view(
    store: Store, settings: Settings, path: Path, source: str = "golden"
) -> dict[str, Any]:
    """Import *path* and return what its golden file holds: the report and balances."""
    result = run_import(store, settings, path, source=source)
    with store.read() as conn:
        return {
            "import": {
                k: v
                for k, v in result.to_json().items()
                if k not in ("batch_id", "file")
            },
            "balances": balances(conn),
        }


def dump_business_tables(store: Store) -> dict[str, list[tuple]]:
    """Every row of every business table, sorted: equal dumps mean an unchanged ledger."""
    out = {}
    with store.read() as conn:
        for table in BUSINESS_TABLES:
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            out[table] = sorted((tuple(r) for r in rows), key=repr)
    return out


def balances_by_account(store: Store) -> dict[str, dict[str, Any]]:
    with store.read() as conn:
        return {f"{b['account']}|{b['currency']}": b for b in balances(conn)}


def count(store: Store, table: str, where: str = "1=1") -> int:
    with store.read() as conn:
        return conn.execute(
            text(f"SELECT count(*) FROM {table} WHERE {where}")
        ).scalar_one()


SAMPLE_LEDGER = (
    Path(__file__).resolve().parent.parent
    / "sample_exports"
    / "generic"
    / "harbor_ledger.csv"
)


def statement_disagreements(store: Store) -> list[str]:
    """Every account and currency whose statement to today does not close at its net
    balance (``billfold balances``), where that net is known (issue 11, item 15).

    An account with records dated after today (an invoice issued ahead) is held to the
    statement of its whole history instead: a statement to today leaves those out."""
    A = ACCOUNTS
    today = datetime.now(UTC).date()
    found = []
    with store.read() as conn:
        accounts = {
            (r.name, r.external_key): r.id
            for r in conn.execute(select(A.c.id, A.c.name, A.c.external_key))
        }
        for b in balances(conn):
            if b["net_balance"] is None:
                continue
            account_id = accounts[(b["account"], b["account_key"])]
            ledgers = []
            for end in (today, date.max):
                statement = build_statement(conn, account_id, date(2000, 1, 1), end)
                [section] = [
                    s for s in statement.sections if s.account_id == account_id
                ]
                found_ledgers = [
                    lg for lg in section.ledgers if lg.currency == b["currency"]
                ]
                later = any(
                    line.on > today for lg in found_ledgers for line, _ in lg.lines
                )
                if end == today or later:
                    ledgers = found_ledgers
            closing = ledgers[0].closing if ledgers else 0
            if Decimal(to_text(closing, b["currency"])) != Decimal(b["net_balance"]):
                found.append(
                    f"{b['account']} {b['currency']}: balances {b['net_balance']}, "
                    f"statement {to_text(closing, b['currency'])}"
                )
            due = b["balance_due"]
            of_balances = due is not None and Decimal(b["net_balance"]) == Decimal(
                due
            ) - Decimal(b["remaining_credit"] or 0) - Decimal(
                b["unapplied_payments"] or 0
            )
            for lg in ledgers:
                aged = sum(lg.aging.values())
                assert lg.closing == aged + lg.undated_total + lg.unmatched
                if of_balances:
                    # To today every settlement is dated: what is open is what is due.
                    assert lg.undated == [], b
                    assert Decimal(to_text(aged, lg.currency)) == Decimal(due), b
    return found
