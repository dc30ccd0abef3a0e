"""Admin: receivables by age. Balances land in the right age, per currency, exactly."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime

from sqlalchemy import insert

from portal.admin.queries.receivables import BUCKETS, aged_receivables
from schemas.tables import ACCOUNTS, INVOICES
from tests.portal.test_admin import page
from tests.portal.test_admin_contacts import admin_client

AS_OF = date(2026, 6, 30)


def _account(conn, key: str, name: str) -> int:  # type: ignore[no-untyped-def]
    return conn.execute(
        insert(ACCOUNTS).values(source="books", external_key=key, name=name,
                                created_at=datetime.now(UTC))
    ).inserted_primary_key[0]  # fmt: skip


def _invoice(conn, account_id, number, currency, balance, due, **kw):  # type: ignore[no-untyped-def]
    values = dict(
        source="books", external_id=number, number=number, account_id=account_id,
        currency=currency, total_minor=balance or 0, balance_minor=balance,
        due_date=due, issue_date=None, content_hash=number, lifecycle="issued",
    )  # fmt: skip
    values.update(kw)
    conn.execute(insert(INVOICES).values(**values))


def test_balances_are_aged_per_account_and_currency_in_minor_units(store):
    with store.write() as conn:
        alder = _account(conn, "A1", "Alder Property")
        birch = _account(conn, "B1", "Birch Cleaning")
        _invoice(conn, alder, "1", "USD", 10_001, date(2026, 7, 15))  # not yet due
        _invoice(conn, alder, "2", "USD", 2_550, date(2026, 6, 30))  # due today
        _invoice(conn, alder, "3", "USD", 99_999_999_999, date(2026, 5, 31))  # 30 days
        _invoice(conn, alder, "4", "USD", 700, date(2026, 5, 30))  # 31 days
        _invoice(conn, alder, "5", "EUR", 1_234, date(2026, 1, 1))  # over 90
        _invoice(conn, birch, "6", "USD", 5_000, None, issue_date=date(2026, 4, 1))
        _invoice(conn, birch, "7", "USD", 900, None)  # no date at all
        _invoice(conn, birch, "8", "USD", 0, date(2026, 1, 1))  # paid: not listed
        _invoice(conn, birch, "9", "USD", 4_000, date(2026, 1, 1), lifecycle="draft")
        _invoice(conn, birch, "10", "USD", None, date(2026, 1, 1))  # not reported
    with store.read() as conn:
        report = aged_receivables(conn, AS_OF)
    rows = {(r.account_id, r.currency): r for r in report.rows}
    assert set(rows) == {(alder, "USD"), (alder, "EUR"), (birch, "USD")}
    assert rows[alder, "USD"].buckets == (12_551, 99_999_999_999, 700, 0, 0)
    assert rows[alder, "USD"].total == 100_000_013_250
    assert isinstance(rows[alder, "USD"].total, int)
    assert rows[alder, "EUR"].buckets == (0, 0, 0, 0, 1_234)
    assert rows[birch, "USD"].buckets == (0, 0, 0, 5_000, 0)  # aged from its issue
    assert rows[birch, "USD"].undated == 900
    assert report.totals["USD"].total == 100_000_013_250 + 5_900
    assert report.totals["EUR"].total == 1_234
    assert report.unreported == 1
    # Largest first within a currency; currencies never mixed.
    usd = [r.account_id for r in report.rows if r.currency == "USD"]
    assert usd == [alder, birch]


def test_an_empty_ledger_has_nothing_to_age(store):
    with store.read() as conn:
        report = aged_receivables(conn, AS_OF)
    assert (report.rows, report.totals, report.unreported) == ([], {}, 0)


def test_the_receivables_page_shows_each_currency_with_its_totals(app, world):
    office = admin_client(app)
    shown = page(office, "/admin/receivables")
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", shown)))
    assert "Receivables by age" in text
    for bucket in BUCKETS:
        assert bucket in text
    assert "All accounts" in text
    store = app.extensions["billfold"].store
    with store.read() as conn:
        report = aged_receivables(conn, datetime.now(UTC).date())
    assert report.rows, "the world has open invoices"
    for currency, total in report.totals.items():
        assert f"<h2>{currency}</h2>" in shown
        assert app.jinja_env.filters["money"](total.total, currency) in text
    assert 'href="/admin/receivables"' in shown  # in the admin menu
