"""BatchWriter's account handling: nested parents, no renames by mention, no clobbering."""

from __future__ import annotations

from sqlalchemy import text

from adapters.quickbooks_names import quickbooks_account, quickbooks_ancestors
from schemas.records import AccountRecord
from sync.engine.apply import BatchWriter


def accounts(store):
    with store.read() as conn:
        rows = conn.execute(
            text("SELECT id, external_key, name, email, parent_id FROM account")
        ).all()
    by_id = {r.id: r for r in rows}
    return {
        r.external_key: (
            r.name,
            r.email,
            by_id[r.parent_id].external_key if r.parent_id else None,
        )
        for r in rows
    }


def test_nested_quickbooks_names_become_a_chain_of_accounts(store):
    site = quickbooks_account(
        "Freeman Sporting Goods:0969 Ocean View Road:Unit 2", "u2@example.com"
    )
    with store.write() as conn:
        writer = BatchWriter(conn, source="qb", batch_id=1, snapshot=False)
        writer.ensure_accounts([site, *quickbooks_ancestors(site)])
    assert accounts(store) == {
        "Freeman Sporting Goods": ("Freeman Sporting Goods", None, None),
        "Freeman Sporting Goods:0969 Ocean View Road": (
            "0969 Ocean View Road",
            None,
            "Freeman Sporting Goods",
        ),
        "Freeman Sporting Goods:0969 Ocean View Road:Unit 2": (
            "Unit 2",
            "u2@example.com",
            "Freeman Sporting Goods:0969 Ocean View Road",
        ),
    }


def test_a_parent_mentioned_by_a_site_is_created_but_never_renamed(store):
    with store.write() as conn:
        writer = BatchWriter(conn, source="s", batch_id=1, snapshot=False)
        writer.ensure_accounts(
            [AccountRecord(key="P", name="Parent Proper", email="p@example.com")]
        )
    with store.write() as conn:
        writer = BatchWriter(conn, source="s", batch_id=2, snapshot=False)
        writer.ensure_accounts(
            [AccountRecord(key="P:1", name="1", parent_key="P", parent_name="P")]
        )
        writer.ensure_accounts(
            [AccountRecord(key="P:2", name="2", parent_key="P", parent_name="P")]
        )
    assert accounts(store)["P"] == ("Parent Proper", "p@example.com", None)
    assert accounts(store)["P:2"] == ("2", None, "P")


def test_blank_email_never_clears_a_known_one(store):
    with store.write() as conn:
        w = BatchWriter(conn, source="s", batch_id=1, snapshot=False)
        w.ensure_accounts([AccountRecord(key="A", name="A", email="a@example.com")])
    with store.write() as conn:
        w = BatchWriter(conn, source="s", batch_id=2, snapshot=False)
        w.ensure_accounts([AccountRecord(key="A", name="A Renamed")])
    assert accounts(store)["A"] == ("A Renamed", "a@example.com", None)


def test_an_export_without_lines_keeps_the_stored_lines(store, settings):
    from datetime import date, datetime
    from decimal import Decimal

    from schemas.records import DocumentRecord, LineRecord
    from sync.engine.apply import BatchWriter
    from sync.engine.reconcile import reconcile
    from sync.engine.validate import prepare

    def doc(lines_known: bool, updated: datetime) -> DocumentRecord:
        return DocumentRecord(
            kind="invoice", external_id="X1", number="X1",
            account=AccountRecord(key="A", name="A"), issue_date=date(2025, 1, 1),
            total=Decimal("10.00"), balance=Decimal("10.00") if lines_known else Decimal("0.00"),
            lines=[LineRecord(position=1, description="Pump", amount=Decimal("10.00"))] if lines_known else [],
            lines_known=lines_known, updated_at=updated,
        )  # fmt: skip

    for batch, record in (
        (1, doc(True, datetime(2025, 1, 1))),
        (2, doc(False, datetime(2025, 2, 1))),
    ):
        prepared = prepare(record, source="x", default_currency="USD", as_of=None)
        with store.write() as conn:
            writer = BatchWriter(conn, source="x", batch_id=batch, snapshot=False)
            writer.ensure_accounts([record.account])
            writer.apply(
                "invoice",
                reconcile([prepared], writer.stored("invoice", ["X1"]), batch),
            )
            writer.finish()
    with store.read() as conn:
        lines = conn.execute(text("SELECT description FROM invoice_line")).all()
        balance = conn.execute(text("SELECT balance_minor FROM invoice")).scalar_one()
    assert [r[0] for r in lines] == ["Pump"]
    assert balance == 0  # the header update applied; only the lines were kept
