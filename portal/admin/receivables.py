"""Admin: aged receivables, who owes what and for how long (open balances by age)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import render_template

from portal.admin import bp
from portal.admin.queries.accounts import AccountTree
from portal.admin.queries.receivables import BUCKETS, UNDATED, aged_receivables
from portal.context import portal


@bp.get("/receivables")
def receivables() -> str:
    """Every account's open balance per currency, by how long it is past due."""
    today = datetime.now(UTC).date()
    with portal().store.read() as conn:
        report = aged_receivables(conn, today)
        tree = AccountTree.load(conn)
    currencies = sorted({r.currency for r in report.rows})
    return render_template(
        "admin/receivables.html", report=report, tree=tree, buckets=BUCKETS,
        undated=UNDATED, currencies=currencies, today=today,
    )  # fmt: skip
