"""The reference for the invoice list: a bare Flask route running the same query.

``gunicorn tests.benchmarks.bare_app:app`` with ``BENCH_DB`` (the SQLite file) and
``BENCH_ACCOUNT`` (an account id). No sign-in, no scope, no layout: the count and the
first page of the account's invoices with the portal's filter and order (the SQL
``portal.queries.invoice_page`` sends), through stdlib ``sqlite3``, rendered as a
plain Jinja table of the same rows.
"""

from __future__ import annotations

import os
import sqlite3

from flask import Flask, render_template_string

PAGE = 25  # the portal's default page_size
COUNT = (
    "SELECT count(*) FROM invoice JOIN account ON account.id = invoice.account_id "
    "WHERE invoice.account_id IN (?) AND invoice.lifecycle NOT IN ('draft', 'deleted')"
)
ROWS = (
    "SELECT invoice.*, account.name AS account_name FROM invoice "
    "JOIN account ON account.id = invoice.account_id "
    "WHERE invoice.account_id IN (?) AND invoice.lifecycle NOT IN ('draft', 'deleted') "
    f"ORDER BY invoice.issue_date DESC, invoice.id DESC LIMIT {PAGE} OFFSET 0"
)
TABLE = """<!doctype html><title>Invoices</title><p>{{ total }} invoices</p>
<table>{% for r in rows %}<tr><td>{{ r['number'] }}</td><td>{{ r['account_name'] }}</td>
<td>{{ r['issue_date'] }}</td><td>{{ r['due_date'] }}</td><td>{{ r['total_minor'] }}</td>
<td>{{ r['balance_minor'] }}</td><td>{{ r['status'] }}</td></tr>{% endfor %}</table>"""

app = Flask(__name__)
_conn: sqlite3.Connection | None = None


def _db() -> sqlite3.Connection:
    global _conn
    if _conn is None:
        _conn = sqlite3.connect(os.environ["BENCH_DB"], check_same_thread=False)
        _conn.row_factory = sqlite3.Row
    return _conn


@app.get("/invoices")
def invoices() -> str:
    account = int(os.environ["BENCH_ACCOUNT"])
    db = _db()
    total = db.execute(COUNT, (account,)).fetchone()[0]
    rows = db.execute(ROWS, (account,)).fetchall()
    return render_template_string(TABLE, total=total, rows=rows)
