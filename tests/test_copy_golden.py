"""What each real-world sample's invoice copies show, on SQLite and PostgreSQL.

Beside ``<sample>.expected.json`` (the import report and balances), a sample may have
``<sample>.copy.expected.json``: every invoice's copy as ``sync.ledger.invoices`` gives
it to the portal page and the PDF (terms, tax mode, exchange rate, memo, lines by kind,
attachments waiting to be fetched, payments with their method) and the account's email.
Regenerate with ``--update-golden`` and review the diff like code.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from schemas.money import to_text
from schemas.tables import Invoice
from sync.ledger.invoices import invoice_detail
from tests.conftest import SAMPLES
from tests.helpers import run_import

COPY_SAMPLES = sorted(
    p.with_name(p.name.removesuffix(".copy.expected.json"))
    for p in SAMPLES.glob("*/*.copy.expected.json")
)
I = Invoice.__table__  # type: ignore[attr-defined]  # noqa: E741


def copy_view(store: Any) -> list[dict[str, Any]]:
    """Every invoice's copy, by number: what a customer is shown."""
    out = []
    with store.read() as conn:
        ids = conn.execute(select(I.c.id).order_by(I.c.number)).scalars().all()
        for invoice_id in ids:
            d = invoice_detail(conn, invoice_id)
            assert d is not None
            inv, cur = d["invoice"], d["invoice"]["currency"]
            out.append(
                {
                    "number": inv["number"],
                    "account": inv["account_name"],
                    "account_email": inv["account_email"],
                    "currency": cur,
                    "facts": [list(f) for f in d["facts"]],
                    "memo": inv["memo"],
                    "lines": [
                        [
                            ln["kind"],
                            ln["description"],
                            to_text(ln["amount_minor"], cur),
                        ]
                        for ln in d["lines"]
                    ],
                    "subtotal": to_text(inv["subtotal_minor"], cur),
                    "tax": to_text(inv["tax_minor"], cur),
                    "total": to_text(inv["total_minor"], cur),
                    "balance_due": to_text(inv["balance_minor"], cur),
                    "applied": [
                        [
                            a["kind"],
                            to_text(a["amount_minor"], cur),
                            a["payment_method"],
                        ]
                        for a in d["applied"]
                    ],
                    "attachments": [
                        [a["name"], a["content_type"], a["size"], a["document_id"]]
                        for a in d["attachments"]
                    ],
                }
            )
    return out


@pytest.mark.parametrize("sample", COPY_SAMPLES, ids=lambda p: p.name)
def test_sample_invoice_copies_match_their_golden(
    sample, store, settings, update_golden
):
    run_import(store, settings, sample, source="golden")
    actual = copy_view(store)
    path = sample.with_name(sample.name + ".copy.expected.json")
    if update_golden:
        path.write_text(
            json.dumps(actual, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    assert actual == json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("sample", COPY_SAMPLES, ids=lambda p: p.name)
def test_subtotal_and_discount_lines_never_count_into_a_figure(sample, store, settings):
    """The total is the source's; item and discount lines add up to a subtotal line,
    and subtotal plus tax is the total: nothing is counted twice."""
    run_import(store, settings, sample, source="golden")
    for copy in copy_view(store):
        running = Decimal(0)  # item and discount lines so far
        for kind, _, amount in copy["lines"]:
            if kind == "subtotal":
                assert Decimal(amount) == running, copy["number"]
            elif amount is not None:
                running += Decimal(amount)
        tax = Decimal(copy["tax"] or 0)
        mode = dict(map(tuple, copy["facts"])).get("Amounts")
        expected = running if mode == "Tax inclusive" else running + tax
        assert Decimal(copy["total"]) == expected, copy["number"]


def test_every_copy_sample_has_its_report_golden_too():
    assert COPY_SAMPLES
    assert all(Path(f"{p}.expected.json").exists() for p in COPY_SAMPLES)
