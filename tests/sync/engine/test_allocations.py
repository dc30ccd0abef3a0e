"""ALLOC rows (SECURITY.md): an allocation only joins records of one customer tree.

A payment or credit note of account B applied to an invoice of account A (A and B not
in one parent/site tree) is rejected with a row error naming both accounts when the
invoice is already stored, and left unresolved (settling nothing, with a warning) when
the invoice arrives later. Within a tree (a parent paying its sites, a site paying a
sibling) allocations apply as before.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from schemas.tables import ALLOCATIONS, INVOICES
from tests.helpers import header_without_lines, run_import, write_csv

HEADER = [*header_without_lines(), "site"]
A = ALLOCATIONS
I = INVOICES  # noqa: E741


def row(kind: str, number: str, customer: str, total: str, **kw: str) -> list[str]:
    values = {
        "record_type": kind,
        "number": number,
        "customer_id": customer,
        "customer_name": {"A": "Alder Group", "B": "Birch Dental"}.get(
            customer, customer
        ),
        "issue_date": "2025-03-01",
        "due_date": "2025-03-31" if kind == "invoice" else "",
        "currency": "USD",
        "total": total,
        "balance_due": total if kind != "payment" else "0.00",
        "payment_method": "Check" if kind == "payment" else "",
    }
    values.update(kw)
    return [values.get(h, "") for h in HEADER]


def export(tmp_path: Path, name: str, *rows: list[str]) -> Path:
    return write_csv(tmp_path / name, HEADER, list(rows))


def allocations(store) -> list[tuple[str, int | None]]:  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return [
            (r.invoice_ref, r.invoice_id)
            for r in conn.execute(
                select(A.c.invoice_ref, A.c.invoice_id).order_by(A.c.id)
            )
        ]


def invoice(store, number: str):  # type: ignore[no-untyped-def]
    with store.read() as conn:
        return conn.execute(select(I).where(I.c.number == number)).one()


def test_a_payment_applied_to_a_stored_invoice_of_another_customer_is_rejected(
    store, settings, tmp_path
):
    run_import(
        store,
        settings,
        export(
            tmp_path, "inv.csv", row("invoice", "A-100", "A", "100.00", amount_paid="")
        ),
    )
    result = run_import(
        store,
        settings,
        export(
            tmp_path,
            "pay.csv",
            row("payment", "CHK-9", "B", "40.00", applies_to="A-100=40.00"),
            row("payment", "CHK-10", "B", "10.00"),
        ),
    )  # fmt: skip

    assert result.status == "applied" and result.created == 1
    [error] = result.rejected
    assert error["record"] == "payment CHK-9"
    assert error["column"] == "allocation" and error["value"] == "A-100"
    assert "Birch Dental (B)" in error["reason"]
    assert "Alder Group (A)" in error["reason"]
    assert "invoice A-100" in error["reason"]
    assert allocations(store) == []
    assert invoice(store, "A-100").balance_minor == 10000


def test_an_invoice_and_a_foreign_payment_in_one_file_reject_the_payment(
    store, settings, tmp_path
):
    result = run_import(
        store,
        settings,
        export(
            tmp_path,
            "both.csv",
            row("invoice", "A-100", "A", "100.00"),
            row("credit_note", "CN-B", "B", "25.00", applies_to="A-100=25.00"),
        ),
    )
    [error] = result.rejected
    assert error["record"] == "credit note CN-B"
    assert (
        "Birch Dental (B)" in error["reason"] and "Alder Group (A)" in error["reason"]
    )
    assert allocations(store) == []


def test_within_one_tree_parents_and_sites_pay_each_other(store, settings, tmp_path):
    result = run_import(
        store,
        settings,
        export(
            tmp_path,
            "tree.csv",
            row("invoice", "E-1", "A", "100.00", site="Elm Court", balance_due=""),
            row("invoice", "O-1", "A", "50.00", site="Oak Plaza", balance_due=""),
            row("payment", "P-PARENT", "A", "100.00", applies_to="E-1=100.00"),
            row("payment", "P-SITE", "A", "50.00", site="Elm Court", applies_to="O-1=50.00"),
        ),
    )  # fmt: skip

    assert result.rejected == [] and result.warnings == []
    assert all(target is not None for _, target in allocations(store))
    assert invoice(store, "E-1").status == "paid"
    assert invoice(store, "O-1").status == "paid"


def test_a_foreign_invoice_arriving_later_is_never_settled_by_the_payment(
    store, settings, tmp_path
):
    pay = run_import(
        store,
        settings,
        export(tmp_path, "pay.csv", row("payment", "CHK-9", "B", "40.00", applies_to="A-100=40.00")),
    )  # fmt: skip
    assert pay.rejected == []  # the invoice is not known yet: nothing to compare with
    later = run_import(
        store,
        settings,
        export(tmp_path, "inv.csv", row("invoice", "A-100", "A", "100.00", balance_due="", amount_paid="")),
    )  # fmt: skip

    assert later.status == "applied" and later.rejected == []
    [warning] = later.warnings
    assert "payment CHK-9 of Birch Dental (B)" in warning
    assert "invoice A-100 of Alder Group (A)" in warning
    assert "left unapplied" in warning
    assert allocations(store) == [("A-100", None)]
    assert invoice(store, "A-100").paid_minor == 0
    assert invoice(store, "A-100").status == "unpaid"

    # An unrelated import later neither resolves it nor repeats the warning.
    other = run_import(
        store,
        settings,
        export(tmp_path, "other.csv", row("invoice", "C-1", "C", "5.00")),
    )
    assert other.warnings == []
    assert allocations(store) == [("A-100", None)]


def test_an_invoice_moved_to_another_customer_leaves_its_payment_behind(
    store, settings, tmp_path
):
    run_import(
        store,
        settings,
        export(
            tmp_path,
            "first.csv",
            row("invoice", "A-100", "A", "100.00", balance_due="", amount_paid=""),
            row("payment", "CHK-1", "A", "30.00", applies_to="A-100=30.00"),
        ),
    )
    assert invoice(store, "A-100").paid_minor == 3000
    moved = run_import(
        store,
        settings,
        export(
            tmp_path,
            "moved.csv",
            row("invoice", "A-100", "B", "100.00", balance_due="", amount_paid=""),
        ),
    )

    [warning] = moved.warnings
    assert "payment CHK-1 of Alder Group (A)" in warning
    assert "invoice A-100 of Birch Dental (B)" in warning
    assert allocations(store) == [("A-100", None)]
    assert invoice(store, "A-100").paid_minor == 0
