"""The ledger's invariants with every kind of record (issue 13).

For every bundled sample (sales receipts, refunds, overpayments and prepayments
included) and for random Xero ledgers of invoices, credit notes, payments,
overpayments, prepayments and refunds:

* opening + activity = closing, over any period, and one period's closing is the next
  period's opening;
* where the net is made of balances, the closing balance of a statement of the whole
  history is the open invoice balances less unapplied cash and unused credit;
* the statement to today closes at ``billfold balances``' net.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from schemas.tables import Account
from sync.ledger.balances import net_bases
from sync.ledger.statement import build_statement
from tests.conftest import SAMPLES
from tests.helpers import run_import, statement_disagreements

A = Account.__table__  # type: ignore[attr-defined]
EARLY, LATE = date(2000, 1, 1), date(2099, 12, 31)
SAMPLE_FILES = sorted(
    p
    for p in SAMPLES.glob("*/*")
    if p.is_file() and not p.name.endswith((".expected.json", ".md"))
)
NEW_KINDS = [
    SAMPLES / "quickbooks_api/receipts_refunds_unapplied_batch.json",
    SAMPLES / "xero_api/overpayments_prepayments_refunds.json",
]


def ledgers(conn, account_id: int, start: date, end: date) -> dict:  # type: ignore[no-untyped-def]
    statement = build_statement(conn, account_id, start, end)
    [section] = [s for s in statement.sections if s.account_id == account_id]
    return {lg.currency: lg for lg in section.ledgers}


def broken_invariants(store, cut: date) -> list[str]:  # type: ignore[no-untyped-def]
    """Every account and currency where one of the first two invariants fails."""
    found = []
    with store.read() as conn:
        ids = [r.id for r in conn.execute(select(A.c.id))]
        bases = net_bases(conn, ids)
        owed = _balances_owed(conn)
        for account_id in ids:
            whole = ledgers(conn, account_id, EARLY, LATE)
            before = ledgers(conn, account_id, EARLY, cut)
            after = ledgers(conn, account_id, cut + timedelta(days=1), LATE)
            for currency, lg in whole.items():
                where = f"account {account_id} {currency}"
                for part in (lg, before.get(currency), after.get(currency)):
                    if part is None:
                        continue
                    moved = sum(line.amount for line, _ in part.lines)
                    if part.opening + moved != part.closing:
                        found.append(f"{where}: opening + activity != closing")
                    if part.charges + part.credits != moved:
                        found.append(f"{where}: charges + credits != activity")
                first = before[currency].closing if currency in before else 0
                if currency in after and after[currency].opening != first:
                    found.append(f"{where}: closing {first} is not the next opening")
                if bases.get((account_id, currency)) == "balances":
                    expected = owed.get((account_id, currency), 0)
                    if lg.closing != expected:
                        found.append(
                            f"{where}: closing {lg.closing} != open balances less "
                            f"unapplied cash and credit {expected}"
                        )
    return found


def _balances_owed(conn) -> dict[tuple[int, str], int]:  # type: ignore[no-untyped-def]
    """Open invoice balances less unapplied cash and unused credit, straight from the
    stored records (not from ``billfold balances``)."""
    owed: dict[tuple[int, str], int] = {}
    for sql in (
        "SELECT account_id, currency, balance_minor FROM invoice"
        " WHERE lifecycle = 'issued'",
        "SELECT account_id, currency, -remaining_minor FROM credit_note"
        " WHERE lifecycle = 'issued'",
        "SELECT account_id, currency, -unapplied_minor FROM payment"
        " WHERE lifecycle = 'active'",
    ):
        for account_id, currency, amount in conn.execute(text(sql)):
            key = (account_id, currency)
            owed[key] = owed.get(key, 0) + (amount or 0)
    return owed


@pytest.mark.parametrize(
    "sample", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_every_sample_keeps_the_ledger_invariants(sample, store, settings):
    run_import(store, settings, sample, source="golden")
    assert broken_invariants(store, date(2021, 8, 17)) == []
    assert statement_disagreements(store) == []


def test_the_new_kinds_together_keep_the_invariants_at_every_cut(store, settings):
    for path in NEW_KINDS:
        run_import(store, settings, path, source=path.parent.name)
    for cut in (
        date(2014, 9, 14),
        date(2014, 10, 2),
        date(2021, 8, 16),
        date(2021, 9, 3),
    ):
        assert broken_invariants(store, cut) == []
    assert statement_disagreements(store) == []


# -- random Xero ledgers ----------------------------------------------------------------

CONTACTS = [
    {"ContactID": "c-1", "Name": "Ridgeway Veterinary Clinic"},
    {"ContactID": "c-2", "Name": "Bayside Rowing Club"},
]


def _day(draw) -> str:  # type: ignore[no-untyped-def]
    return f"2025-{draw(st.integers(1, 9)):02d}-{draw(st.integers(1, 28)):02d}"


def _money(minor: int) -> float | str:
    return f"{minor // 100}.{minor % 100:02d}"


@st.composite
def xero_ledgers(draw):  # type: ignore[no-untyped-def]
    """Invoices settled by payments, credit notes, overpayments and prepayments, with
    credit and cash left over or refunded, in one Xero response."""
    invoices, due = [], {}
    for n in range(draw(st.integers(1, 4))):
        contact = draw(st.sampled_from(CONTACTS))
        total = draw(st.integers(0, 100_000))
        invoices.append(
            {"Type": "ACCREC", "InvoiceID": f"i-{n}", "InvoiceNumber": f"INV-{n}",
             "Contact": contact, "Date": _day(draw), "DueDate": "2025-10-01",
             "Status": "AUTHORISED", "Total": total, "CurrencyCode": "USD"}
        )  # fmt: skip
        due[f"i-{n}"] = [
            contact["ContactID"],
            total,
            0,
            0,
        ]  # contact, open, paid, credited

    def spend(contact: dict, amount: int, kind: int) -> tuple[list, int]:
        applied, left = [], amount
        for invoice_id, facts in due.items():
            if facts[0] != contact["ContactID"] or not left or not draw(st.booleans()):
                continue
            part = draw(st.integers(0, min(left, facts[1])))
            if part:
                facts[1] -= part
                facts[kind] += part
                left -= part
                applied.append((invoice_id, part))
        return applied, left

    def refunds(left: int) -> tuple[list, int]:
        refund = draw(st.integers(0, left))
        if not refund:
            return [], left
        return [
            {"PaymentID": "r", "Date": _day(draw), "Amount": _money(refund)}
        ], left - refund

    collections: dict[str, list] = {
        "CreditNotes": [], "Payments": [], "Overpayments": [], "Prepayments": []
    }  # fmt: skip
    for n in range(draw(st.integers(0, 3))):
        contact = draw(st.sampled_from(CONTACTS))
        total = draw(st.integers(1, 50_000))
        applied, left = spend(contact, total, 3)
        paid_back, left = refunds(left)
        collections["CreditNotes"].append(
            {"Type": "ACCRECCREDIT", "CreditNoteID": f"cn-{n}",
             "CreditNoteNumber": f"CN-{n}", "Contact": contact, "Date": _day(draw),
             "Status": "AUTHORISED", "Total": _money(total), "CurrencyCode": "USD",
             "RemainingCredit": _money(left), "Payments": paid_back,
             "Allocations": [{"Amount": _money(a), "Date": _day(draw),
                              "Invoice": {"InvoiceID": i}} for i, a in applied]}
        )  # fmt: skip
    for n, (invoice_id, facts) in enumerate(due.items()):
        if facts[1] and draw(st.booleans()):
            part = draw(st.integers(1, facts[1]))
            facts[1] -= part
            facts[2] += part
            collections["Payments"].append(
                {"PaymentID": f"p-{n}", "Date": _day(draw), "Amount": _money(part),
                 "PaymentType": "ACCRECPAYMENT", "Status": "AUTHORISED",
                 "Invoice": {"InvoiceID": invoice_id, "CurrencyCode": "USD",
                             "Contact": {"ContactID": facts[0]}}}
            )  # fmt: skip
    for collection, one in (
        ("Overpayments", "Overpayment"),
        ("Prepayments", "Prepayment"),
    ):
        for n in range(draw(st.integers(0, 2))):
            contact = draw(st.sampled_from(CONTACTS))
            total = draw(st.integers(1, 80_000))
            applied, left = spend(contact, total, 3)  # Xero counts it as credited
            paid_back, left = refunds(left)
            collections[collection].append(
                {f"{one}ID": f"{one[0]}-{n}", "Type": f"RECEIVE-{one.upper()}",
                 "Contact": contact, "Date": _day(draw), "Status": "AUTHORISED",
                 "Total": _money(total), "RemainingCredit": _money(left),
                 "CurrencyCode": "USD", "Payments": paid_back,
                 "Allocations": [{"Amount": _money(a), "Date": _day(draw),
                                  "Invoice": {"InvoiceID": i}} for i, a in applied]}
            )  # fmt: skip
    for invoice in invoices:
        _, open_, paid, credited = due[invoice["InvoiceID"]]
        invoice.update(
            Total=_money(invoice["Total"]), AmountDue=_money(open_),
            AmountPaid=_money(paid), AmountCredited=_money(credited),
            Status="PAID" if open_ == 0 else "AUTHORISED",
        )  # fmt: skip
    return {"Id": "x", "Status": "OK", "Invoices": invoices, **collections}


@pytest.mark.slow  # long fuzz: many generated cases, most through a store
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=xero_ledgers(), cut=st.dates(date(2025, 1, 1), date(2025, 10, 1)))
def test_random_xero_ledgers_keep_the_invariants(
    store, settings, tmp_path_factory, database, data, cut
):
    database.reset(store)
    path: Path = tmp_path_factory.mktemp("xero") / "ledger.json"
    path.write_text(json.dumps(data))
    result = run_import(store, settings, path)
    assert result.status == "applied" and result.rejected == [], result
    assert broken_invariants(store, cut) == []
    assert statement_disagreements(store) == []
