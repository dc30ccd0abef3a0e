"""Portal measurements: who signs in, and how long pages and PDFs take in-process.

``prepare_portal`` opens the portal to the generated fixed-shape accounts (customer 0
"big", 1 "steady", 2 "statement"), gives each a contact and a signed-in session, and
returns the session cookies. ``python -m tests.benchmarks.pages`` times pages through
Flask's test client (the whole request: session, scope, queries, template or PDF; no
HTTP) and prints one JSON object.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select, update

from sync.access.contacts import ensure_contact
from sync.access.grants import grant_access
from sync.access.sessions import start_session
from sync.config import load_settings
from sync.store import open_store

ACCOUNTS = {"big": 0, "steady": 1, "statement": 2}


def account_name(index: int) -> str:
    """The generated name of customer *index* (tests.benchmarks.generate.customers)."""
    from tests.benchmarks.generate import customers

    return customers(index + 1)[index].name


def prepare_portal() -> dict[str, Any]:
    """Enable the fixed-shape accounts and sign a contact in to each; return cookies."""
    from schemas.tables import ACCOUNTS, INVOICES

    settings = load_settings(None)
    store = open_store(settings)
    accounts = ACCOUNTS
    invoices = INVOICES
    out: dict[str, Any] = {}
    with store.write(ledger=False) as conn:
        for label, index in ACCOUNTS.items():
            name = account_name(index)
            account_id = conn.execute(
                select(accounts.c.id).where(accounts.c.name == name)
            ).scalar_one()
            conn.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(portal_enabled=True)
            )
            contact = ensure_contact(conn, f"{label}@bench.example", label)
            grant_access(conn, contact, account_id, "billing")
            token = start_session(conn, "contact", contact, 24 * 365)
            count, newest = conn.execute(
                select(func.count(), func.max(invoices.c.issue_date)).where(
                    invoices.c.account_id == account_id
                )
            ).one()
            sample = conn.execute(
                select(invoices.c.id)
                .where(
                    invoices.c.account_id == account_id,
                    invoices.c.lifecycle == "issued",
                )
                .order_by(invoices.c.id)
                .limit(1)
            ).scalar_one()
            out[label] = {
                "account_id": account_id,
                "cookie": token,
                "invoices": count,
                "newest": str(newest),
                "sample_invoice": sample,
            }
    store.dispose()
    return out


def _times(client: Any, path: str, cookie: str, count: int) -> list[float]:
    client.set_cookie("billfold_session", cookie)
    client.get(path)  # warm: templates compiled, fonts registered, caches filled
    times = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{path} answered {response.status_code}")
    return times


def measure(portal: dict[str, Any], pages: int, pdfs: int) -> dict[str, Any]:
    """Median milliseconds of the list page, an invoice PDF and a 12-month statement."""
    from portal import create_app

    app = create_app(load_settings(None))
    client = app.test_client()
    result: dict[str, Any] = {}
    for label in ("steady", "big"):
        times = _times(client, "/invoices", portal[label]["cookie"], pages)
        result[f"list_{label}_ms"] = statistics.median(times) * 1000
    big = portal["big"]
    times = _times(
        client, f"/invoices/{big['sample_invoice']}/pdf", big["cookie"], pdfs
    )
    result["invoice_pdf_ms"] = statistics.median(times) * 1000
    st = portal["statement"]
    end = date.fromisoformat(st["newest"])
    start = end - timedelta(days=364)  # twelve months, ending on the newest invoice
    query = f"from={start.isoformat()}&to={end.isoformat()}"
    times = _times(
        client, f"/statements/download?format=pdf&{query}", st["cookie"], pdfs // 2
    )
    result["statement_pdf_ms"] = statistics.median(times) * 1000
    result["statement_lines"], result["statement_open_items"] = _statement_rows(
        st["account_id"], start, end
    )
    result["statement_period"] = [start.isoformat(), end.isoformat()]
    return result


def _statement_rows(account_id: int, start: date, end: date) -> tuple[int, int]:
    """(transactions, open invoices listed) of the statement: the rows its PDF draws."""
    from sync.ledger.statement import build_statement

    settings = load_settings(None)
    store = open_store(settings)
    with store.read() as conn:
        built = build_statement(conn, account_id, start, end)
    store.dispose()
    ledgers = [ledger for s in built.sections for ledger in s.ledgers]
    return (
        sum(len(ledger.lines) for ledger in ledgers),
        sum(len(ledger.open_items) for ledger in ledgers),
    )


if __name__ == "__main__":
    portal = json.loads(sys.argv[1])
    print(json.dumps(measure(portal, int(sys.argv[2]), int(sys.argv[3]))))
