"""VIS rows (SECURITY.md): the customer read model hides what customers must not see,
on every page and download, and the views read through nothing else.

* A document linked to a draft or deleted invoice or credit note is neither listed nor
  served (the issue's ``INV-900.pdf`` of a draft).
* An allocation whose other side is hidden, or belongs to an account out of view, is
  never shown: not on the invoice page or its PDF, not on the payments page, not on a
  credit note, and it does not settle a statement's open items. The store rows here
  are written directly, as a store filled before import refused them would hold them.
* A payment of one customer applied to another's invoice by an export is refused at
  import, so neither customer ever sees the other's numbers.
* The customer views contain no SQL and call no unscoped reader.
"""

from __future__ import annotations

import ast
import csv
import inspect
import io
import sys
from datetime import date
from decimal import Decimal

from pypdf import PdfReader
from sqlalchemy import update

from schemas.tables import (
    ALLOCATIONS,
    CREDIT_NOTES,
    DOCUMENTS,
    PAYMENTS,
)
from sync.store.blobs import put_document
from tests.helpers import GENERIC_HEADER, run_import, write_csv
from tests.portal.conftest import sign_in

D = DOCUMENTS
P = PAYMENTS
C = CREDIT_NOTES
AL = ALLOCATIONS


def _text(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def _add_document(app, world, name, kind, account, **links) -> int:  # type: ignore[no-untyped-def]
    settings = app.extensions["billfold"].settings
    body = b"%PDF-1.4\n% " + name.encode() + b"\n%%EOF\n"
    sha, key = put_document(settings, body)
    with app.extensions["billfold"].store.write(ledger=False) as conn:
        return conn.execute(
            D.insert().values(
                sha256=sha, kind=kind, file_name=name, content_type="application/pdf",
                size=len(body), storage_key=key, account_id=world.accounts[account], **links,
            ).returning(D.c.id)
        ).scalar_one()  # fmt: skip


def test_documents_of_draft_and_deleted_records_are_never_listed_or_served(
    app, client, world
):
    draft = world.invoices["A2-301"]
    hidden = {
        "INV-900.pdf": _add_document(
            app, world, "INV-900.pdf", "invoice_copy", "A:Oak Plaza", invoice_id=draft
        ),
        "jobsheet-draft.pdf": _add_document(
            app, world, "jobsheet-draft.pdf", "job_sheet", "A:Oak Plaza", invoice_id=draft
        ),
        "CN-deleted.pdf": _add_document(
            app, world, "CN-deleted.pdf", "credit_note_copy", "A:Elm Court",
            credit_note_id=world.credit_notes["CN-A1"],
        ),
        # filed under B, but linked to A's invoice: it goes with the record
        "misfiled.pdf": _add_document(
            app, world, "misfiled.pdf", "job_sheet", "B", invoice_id=world.invoices["A-100"]
        ),
    }  # fmt: skip
    with app.extensions["billfold"].store.write(ledger=False) as conn:
        conn.execute(
            update(C)
            .where(C.c.id == world.credit_notes["CN-A1"])
            .values(lifecycle="deleted")
        )
    for contact in ("a_parent", "a_docs", "b_user"):
        sign_in(app, client, contact)
        pages = _text(client.get("/documents")) + _text(client.get("/"))
        for name, document_id in hidden.items():
            assert name not in pages, (contact, name)
            assert client.get(f"/documents/{document_id}").status_code == 404, (
                contact,
                name,
            )
    sign_in(app, client, "a_parent")
    assert "jobsheet-A1.pdf" in _text(client.get("/documents"))
    assert "original-A-100.pdf" in _text(
        client.get(f"/invoices/{world.invoices['A-100']}")
    )


def _legacy_allocations(app, world) -> None:  # type: ignore[no-untyped-def]
    """Rows a store filled before imports refused them: B's payment and credit note
    applied to A's invoices, the parent's payment applied to its site's invoice, and
    the site's credit note applied to a draft invoice."""
    with app.extensions["billfold"].store.write(ledger=False) as conn:

        def payment(ref: str, account: str, amount: int) -> int:
            return conn.execute(
                P.insert().values(
                    source="books", external_id=ref, account_id=world.accounts[account],
                    received_on=date(2025, 3, 25), currency="USD", amount_minor=amount,
                    method="Wire", reference=ref, lifecycle="active", content_hash=ref,
                ).returning(P.c.id)
            ).scalar_one()  # fmt: skip

        def allocate(kind, owner_kind, owner_id, invoice, amount, credit=None):  # type: ignore[no-untyped-def]
            conn.execute(
                AL.insert().values(
                    source="books", owner_kind=owner_kind, owner_id=owner_id, kind=kind,
                    payment_id=owner_id if owner_kind == "payment" else None,
                    credit_note_id=credit, invoice_ref=invoice,
                    invoice_id=world.invoices[invoice], amount_minor=amount,
                    currency="USD", applied_on=date(2025, 3, 25),
                )
            )  # fmt: skip

        birch = payment("CHK-BIRCH", "B", 5000)
        allocate("cash", "payment", birch, "A-100", 4000)
        allocate("cash", "payment", birch, "A1-200", 1000)
        credit = conn.execute(
            C.insert().values(
                source="books", external_id="CN-BIRCH", number="CN-BIRCH",
                account_id=world.accounts["B"], currency="USD", issue_date=date(2025, 3, 2),
                total_minor=700, lifecycle="issued", content_hash="x", remaining_minor=0,
                status="applied",
            ).returning(C.c.id)
        ).scalar_one()  # fmt: skip
        world.credit_notes["CN-BIRCH"] = credit
        allocate("credit", "credit_note", credit, "A1-200", 700, credit=credit)
        allocate("cash", "payment", payment("CHK-ALDER", "A", 1000), "A1-200", 1000)
        site_credit = world.credit_notes["CN-A1"]
        allocate(
            "credit", "credit_note", site_credit, "A2-301", 500, credit=site_credit
        )


def test_allocations_whose_other_side_is_out_of_view_are_never_shown(
    app, client, world
):
    _legacy_allocations(app, world)
    a100, a1200 = world.invoices["A-100"], world.invoices["A1-200"]

    sign_in(app, client, "a_parent")
    page = _text(client.get(f"/invoices/{a1200}"))
    assert "CHK-ALDER" in page  # the parent's own payment: in view
    pdf = client.get(f"/invoices/{a1200}/pdf")
    drawn = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "CHK-ALDER" in drawn
    for body in (page, drawn, _text(client.get(f"/invoices/{a100}"))):
        assert "CHK-BIRCH" not in body and "CN-BIRCH" not in body
    # the site's credit applied to a draft invoice does not name the draft
    assert "A2-301" not in _text(
        client.get(f"/credit-notes/{world.credit_notes['CN-A1']}")
    )

    sign_in(app, client, "a1_only")
    page = _text(client.get(f"/invoices/{a1200}"))
    assert "CHK-ALDER" not in page  # the parent is out of this contact's view
    assert "CHK-BIRCH" not in page and "CN-BIRCH" not in page

    sign_in(app, client, "b_user")
    payments = _text(client.get("/payments"))
    assert "CHK-BIRCH" in payments
    credit = _text(client.get(f"/credit-notes/{world.credit_notes['CN-BIRCH']}"))
    for body in (payments, credit):
        assert "A-100" not in body and "A1-200" not in body
        assert f"/invoices/{a100}" not in body and f"/invoices/{a1200}" not in body


def test_a_statement_is_settled_only_from_its_own_customer_tree(app, client, world):
    _legacy_allocations(app, world)
    sign_in(app, client, "a_parent")
    response = client.get(
        f"/statements/download?account={world.accounts['A']}&format=csv"
        "&from=2025-01-01&to=2025-12-31"
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    text = response.get_data(as_text=True)
    assert "CHK-BIRCH" not in text and "CN-BIRCH" not in text and "A2-301" not in text
    # A-100 is open in full: Birch's 40.00 does not settle Alder's invoice
    aging = sum(
        Decimal(r["amount"])
        for r in rows
        if r["account_key"] == "A" and r["type"] == "aging"
    )
    assert aging == Decimal("100.00")


def test_an_export_applying_one_customers_payment_to_anothers_invoice_shows_neither(
    app, client, world, tmp_path
):
    header = [h for h in GENERIC_HEADER if not h.startswith("line_")]
    values = dict.fromkeys(header, "")
    values.update(
        record_type="payment", number="CHK-7", customer_id="B", customer_name="Birch Dental",
        issue_date="2025-03-28", currency="USD", total="40.00", balance_due="0.00",
        applies_to="A-100=40.00", payment_method="Check",
    )  # fmt: skip
    path = write_csv(tmp_path / "pay.csv", header, [[values[h] for h in header]])
    store = app.extensions["billfold"].store
    result = run_import(
        store, app.extensions["billfold"].settings, path, source="books"
    )
    [error] = result.rejected
    assert "Birch Dental (B)" in error["reason"]
    assert "Alder Property Group (A)" in error["reason"]

    sign_in(app, client, "a_parent")
    assert "CHK-7" not in _text(client.get(f"/invoices/{world.invoices['A-100']}"))
    sign_in(app, client, "b_user")
    assert "A-100" not in _text(client.get("/payments"))


def _customer_view_modules(app) -> set[str]:  # type: ignore[no-untyped-def]
    return {
        app.view_functions[rule.endpoint].__module__
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("customer.")
    }


UNSCOPED = {
    "sync.ledger.invoices": {"invoice_detail", "credit_note_detail", "invoice_list"},
    "sync.ledger.balances": {"balances"},
    "sync.ledger.statement": {"build_statement"},
}


def test_customer_views_read_only_through_the_scoped_read_model(app):
    modules = _customer_view_modules(app)
    assert "portal.customer" in modules
    for name in modules:
        tree = ast.parse(inspect.getsource(sys.modules[name]))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                assert not module.startswith("sqlalchemy"), (name, module)
                used = {a.name for a in node.names} & UNSCOPED.get(module, set())
                assert not used, f"{name} imports the unscoped {used} from {module}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("sqlalchemy"), (name, alias.name)
                    assert not alias.name.startswith("sync"), (name, alias.name)
                    assert alias.name not in ("sync.ledger", "sync"), (name, alias.name)
            elif isinstance(node, ast.Attribute) and node.attr in (
                "execute",
                "exec_driver_sql",
                "scalar",
                "scalars",
            ):
                raise AssertionError(f"{name} runs SQL itself (.{node.attr})")


def test_every_reader_of_the_read_model_takes_the_scope():
    from portal import queries
    from portal.scope import Scope

    readers = [
        f
        for name, f in vars(queries).items()
        if inspect.isfunction(f)
        and f.__module__ == queries.__name__
        and not name.startswith("_")
    ]
    assert len(readers) >= 12
    for f in readers:
        hints = inspect.get_annotations(f, eval_str=True)
        assert hints.get("scope") is Scope, f"{f.__name__} must take the Scope"
