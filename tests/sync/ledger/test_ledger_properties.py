"""Property tests over whole imports: re-import is a no-op; balances add up."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import GENERIC_HEADER, dump_business_tables, run_import, write_csv

HEADER = [h for h in GENERIC_HEADER if not h.startswith("line_")]


@st.composite
def ledgers(draw):
    rows = []
    n_accounts = draw(st.integers(1, 3))
    number = 0
    for a in range(n_accounts):
        customer = f"Customer {a}"
        for _ in range(draw(st.integers(0, 4))):
            number += 1
            total = draw(st.integers(0, 500_000))
            paid = draw(st.integers(0, total))
            credited = draw(st.integers(0, total - paid))
            void = draw(st.booleans()) and draw(st.booleans())
            inv = f"INV{number}"
            cents = Decimal(total) / 100
            rows.append(dict(record_type="invoice", number=inv, customer_name=customer,
                             issue_date="2025-01-15", currency="USD", total=f"{cents:.2f}",
                             balance_due=f"{Decimal(total - paid - credited) / 100:.2f}",
                             status="void" if void else ""))  # fmt: skip
            if paid and not void:
                rows.append(dict(record_type="payment", number=f"P{number}", customer_name=customer,
                                 issue_date="2025-02-01", currency="USD",
                                 total=f"{Decimal(paid) / 100:.2f}", balance_due="0.00",
                                 applies_to=f"{inv}={Decimal(paid) / 100:.2f}"))  # fmt: skip
            if credited and not void:
                rows.append(dict(record_type="credit_note", number=f"C{number}", customer_name=customer,
                                 issue_date="2025-02-02", currency="USD",
                                 total=f"{Decimal(credited) / 100:.2f}", balance_due="0.00",
                                 applies_to=f"{inv}={Decimal(credited) / 100:.2f}"))  # fmt: skip
        if draw(st.booleans()):
            extra = draw(st.integers(1, 10_000))
            rows.append(dict(record_type="payment", number=f"U{a}", customer_name=customer,
                             issue_date="2025-03-01", currency="USD",
                             total=f"{Decimal(extra) / 100:.2f}",
                             balance_due=f"{Decimal(extra) / 100:.2f}"))  # fmt: skip
    return rows


def _write(path, rows, header=HEADER):
    return write_csv(path, header, [[r.get(h, "") for h in header] for r in rows])


@pytest.mark.slow  # long fuzz: many generated cases, most through a store
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=ledgers(), data=st.data())
def test_reimport_in_another_layout_changes_nothing(
    store, settings, tmp_path_factory, database, rows, data
):
    shuffled_header = data.draw(st.permutations(HEADER))
    database.reset(store)
    folder = tmp_path_factory.mktemp("ledger")
    first = run_import(store, settings, _write(folder / "a.csv", rows))
    assert first.status == "applied" and first.rejected == [], first
    before = dump_business_tables(store)
    again = run_import(
        store, settings, _write(folder / "b.csv", rows, list(shuffled_header))
    )
    assert again.status in ("applied", "duplicate")
    assert again.created == 0 and again.updated == 0
    assert dump_business_tables(store) == before


@pytest.mark.slow  # long fuzz: many generated cases, most through a store
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=ledgers())
def test_balances_add_up_for_every_account(
    store, settings, tmp_path_factory, database, rows
):
    from sync.ledger.balances import balances

    database.reset(store)
    run_import(
        store, settings, _write(tmp_path_factory.mktemp("ledger") / "a.csv", rows)
    )
    with store.read() as conn:
        for b in balances(conn):
            billed, paid = Decimal(b["total_billed"]), Decimal(b["total_paid"])
            # A ledger without credit notes or payments cannot say there are none (null).
            assert (b["credit_note_total"] is None) == (b["remaining_credit"] is None)
            credited = Decimal(b["credit_note_total"] or 0)
            net = Decimal(b["net_balance"])
            assert net == billed - paid - credited, b
            due, left = Decimal(b["balance_due"]), Decimal(b["remaining_credit"] or 0)
            assert net == due - left - Decimal(b["unapplied_payments"] or 0), b
