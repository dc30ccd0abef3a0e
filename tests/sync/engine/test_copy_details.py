"""What an invoice copy needs, through real imports: emails, attachments, names of
payment methods and terms, on SQLite and PostgreSQL (issue 13, items 5 and 6)."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from adapters.toolkit.json_fields import Fields, JsonRules
from adapters.xero_copy import exchange_rate
from schemas.tables import Invoice
from sync.ledger.invoices import invoice_detail
from tests.conftest import SAMPLES
from tests.helpers import run_import

QBO = SAMPLES / "real_world" / "qbo_invoice_copy_details.json"
XERO = SAMPLES / "real_world" / "xero_invoices_copy_details.json"
I = Invoice.__table__  # type: ignore[attr-defined]  # noqa: E741


def qbo(kind: str) -> list[dict[str, Any]]:
    """The sample's entities of one kind (fresh copies)."""
    data = json.loads(QBO.read_text())
    for part in data["BatchItemResponse"]:
        if kind in part["QueryResponse"]:
            return copy.deepcopy(part["QueryResponse"][kind])
    raise KeyError(kind)


def write(tmp_path: Path, name: str, **entities: list[dict]) -> Path:
    batch = [
        {"QueryResponse": {kind: items}, "bId": kind}
        for kind, items in entities.items()
    ]
    path = tmp_path / name
    path.write_text(json.dumps({"BatchItemResponse": batch}))
    return path


def email_of(store, key: str) -> str | None:
    with store.read() as conn:
        return conn.execute(
            text("SELECT email FROM account WHERE external_key = :k"), {"k": key}
        ).scalar_one()


def detail(store, number: str) -> dict[str, Any]:
    with store.read() as conn:
        invoice_id = conn.execute(
            select(I.c.id).where(I.c.number == number)
        ).scalar_one()
        found = invoice_detail(conn, invoice_id)
    assert found is not None
    return found


def test_bill_email_gives_an_invoice_only_customer_its_address_kept_and_replaced(
    store, settings, tmp_path
):
    [inv, _] = qbo("Invoice")
    inv["BillEmail"] = {"Address": "accounts@coolcars.example"}
    first = run_import(store, settings, write(tmp_path, "1.json", Invoice=[inv]))
    assert first.rejected == []
    assert email_of(store, "3") == "accounts@coolcars.example"
    # A later file without an email keeps the known one...
    again = copy.deepcopy(inv)
    del again["BillEmail"]
    again["SyncToken"] = "2"
    run_import(store, settings, write(tmp_path, "2.json", Invoice=[again]))
    assert email_of(store, "3") == "accounts@coolcars.example"
    # ... a bad one is refused on its own, the invoice kept and the address too ...
    bad = copy.deepcopy(inv)
    bad["BillEmail"] = {"Address": "<script>x</script>@evil"}
    bad["SyncToken"], bad["TotalAmt"], bad["Balance"] = "3", 409.24, 209.24
    result = run_import(store, settings, write(tmp_path, "3.json", Invoice=[bad]))
    [refused] = result.rejected
    assert refused["column"] == "BillEmail.Address"
    assert "was kept without it" in refused["reason"]
    assert detail(store, "1037")["invoice"]["total_minor"] == 40924
    assert email_of(store, "3") == "accounts@coolcars.example"
    # ... and a different one replaces it.
    other = copy.deepcopy(inv)
    other["BillEmail"] = {"Address": "ap@coolcars.example"}
    other["SyncToken"] = "4"
    run_import(store, settings, write(tmp_path, "4.json", Invoice=[other]))
    assert email_of(store, "3") == "ap@coolcars.example"


def test_a_customer_email_that_is_not_an_address_is_refused_and_the_customer_kept(
    store, settings, tmp_path
):
    [customer] = qbo("Customer")
    customer["PrimaryEmailAddr"] = {"Address": "Grace Pariente, grace@coolcars.example"}
    result = run_import(store, settings, write(tmp_path, "c.json", Customer=[customer]))
    assert [(r["record"], r["column"]) for r in result.rejected] == [
        ("customer Cool Cars", "PrimaryEmailAddr.Address")
    ]
    with store.read() as conn:
        row = conn.execute(text("SELECT name, email FROM account")).one()
    assert tuple(row) == ("Cool Cars", None)


def test_attachable_imported_before_its_invoice_is_listed_and_never_lost(
    store, settings, tmp_path
):
    attachables = qbo("Attachable")
    first = run_import(
        store, settings, write(tmp_path, "a.json", Attachable=attachables)
    )
    assert first.status == "applied"
    run_import(store, settings, write(tmp_path, "i.json", Invoice=qbo("Invoice")))
    expected = [("fountain-site-photo.jpg", "image/jpeg", 184233, None)]
    listed = [tuple(a.values()) for a in detail(store, "1037")["attachments"]]
    assert listed == expected
    # A later file that says nothing of attachments leaves them listed.
    later = qbo("Invoice")
    later[0]["SyncToken"] = "9"
    run_import(store, settings, write(tmp_path, "later.json", Invoice=later))
    assert [tuple(a.values()) for a in detail(store, "1037")["attachments"]] == expected


def test_xero_has_attachments_without_names_is_listed_until_names_arrive(
    store, settings, tmp_path
):
    data = json.loads(XERO.read_text())
    first = copy.deepcopy(data)
    del first["Invoices"][0]["Attachments"]  # a list call: HasAttachments only
    path = tmp_path / "list.json"
    path.write_text(json.dumps(first))
    run_import(store, settings, path, source="xero")
    assert detail(store, "INV-0041")["attachments"] == [
        {"name": None, "content_type": None, "size": None, "document_id": None}
    ]
    run_import(store, settings, XERO, source="xero")  # a single read lists them
    assert [a["name"] for a in detail(store, "INV-0041")["attachments"]] == [
        "job-7781-sign-off.pdf"
    ]


def test_payment_method_named_by_a_later_paymentmethod_entity(
    store, settings, tmp_path
):
    path = write(
        tmp_path,
        "p.json",
        Invoice=qbo("Invoice")[:1],
        Payment=qbo("Payment"),
        PaymentMethod=qbo("PaymentMethod"),
        Term=qbo("Term"),
    )
    result = run_import(store, settings, path)
    assert result.warnings == []
    [applied] = detail(store, "1037")["applied"]
    assert (applied["payment_method"], applied["amount_minor"]) == ("Check", 20000)


def test_an_id_no_entity_names_is_left_out_and_said(store, settings, tmp_path):
    result = run_import(
        store,
        settings,
        write(tmp_path, "p.json", Invoice=qbo("Invoice")[:1], Payment=qbo("Payment")),
    )
    assert any(
        "payment method" in w and "add a PaymentMethod query" in w
        for w in result.warnings
    ), result.warnings
    assert any("terms" in w and "add a Term query" in w for w in result.warnings)
    d = detail(store, "1037")
    assert d["applied"][0]["payment_method"] is None
    assert d["facts"] == []  # no terms shown rather than an Id


def test_a_currency_rate_of_one_or_a_bad_one_says_nothing_or_is_refused():
    rules = JsonRules(amount="an amount", date="a date", epoch_dates=True)
    assert exchange_rate(Fields({"CurrencyRate": Decimal("1.000000")}, rules)) is None
    assert str(exchange_rate(Fields({"CurrencyRate": "0.5793"}, rules))) == "0.5793"
    bad = {"InvoiceNumber": "INV-9", "CurrencyRate": -2}
    try:
        exchange_rate(Fields(bad, rules))
    except Exception as exc:
        assert "above zero" in str(exc.expected)  # type: ignore[attr-defined]
    else:
        raise AssertionError("a negative CurrencyRate was read")


def test_xero_csv_email_column_gives_the_address_and_a_bad_one_is_refused_alone(
    store, settings, tmp_path
):
    sample = SAMPLES / "xero_csv" / "harbor_sales_invoices.csv"
    good = run_import(store, settings, sample, source="xero")
    assert email_of(store, "Maple Street Dental") == "ap@maplestreetdental.example"
    bad = tmp_path / "bad_email.csv"
    text_ = sample.read_text(encoding="utf-8-sig").replace(
        "ap@maplestreetdental.example", '"=HYPERLINK(""http://x"",""ap"")"'
    )
    bad.write_text(text_, encoding="utf-8")
    result = run_import(store, settings, bad, source="xero")
    refused = [r for r in result.rejected if r["column"] == "EmailAddress"]
    assert refused and all("was kept without it" in r["reason"] for r in refused)
    assert len(result.rejected) == len(refused)  # no document was rejected
    assert result.created + result.updated + result.unchanged == (
        good.created + good.updated + good.unchanged
    )
    assert email_of(store, "Maple Street Dental") == "ap@maplestreetdental.example"


def test_a_record_without_copy_details_hashes_as_before_them(tmp_path):
    """Re-importing an unchanged file after the upgrade to 0009 changes nothing: the
    content hash of a record with no terms, tax mode, rate or special lines is the one
    the store already holds (this value is what billfold gave before 0009)."""
    from adapters.base import ExportFile, ParseOptions
    from adapters.generic_csv import GenericCsv
    from adapters.toolkit.text import sniff_bytes
    from schemas.records import DocumentRecord
    from sync.engine.validate import prepare

    path = SAMPLES / "generic" / "harbor_ledger.csv"
    data = path.read_bytes()
    export = ExportFile(path, path.name, sniff_bytes(data), len(data))
    [record] = [
        r
        for r in GenericCsv().parse(export, ParseOptions())
        if isinstance(r, DocumentRecord) and r.number == "1001"
    ]
    prepared = prepare(record, source="s", default_currency="USD", as_of=None)
    assert prepared.content_hash == "f0866d1b77d554fc5950b9c705a89804"
