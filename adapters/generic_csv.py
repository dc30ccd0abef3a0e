"""billfold's own CSV contract, for billing tools that are not QuickBooks or Xero.

Columns are found by normalised header name (README, "Generic CSV"): one row per
document, or one row per line item with the header fields repeated and a ``line_no``
column. A ``record_type`` column mixes invoices, credit notes and payments; payments and
credit notes name the invoices they settle in ``applies_to`` (``1006=721.15;1014=278.85``).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from adapters.errors import CellError, FileRejected
from adapters.toolkit.cells import parse_amount
from adapters.toolkit.columns import Column, Columns, nfc_key, normalise_header
from adapters.toolkit.csv_rows import Row
from adapters.toolkit.keys import is_placeholder_id, real_id
from adapters.toolkit.table import Table, Values, check_agreement, refuse_missing
from adapters.toolkit.tabular import TabularAdapter
from schemas.records import (
    AccountRecord,
    AllocationRecord,
    DocumentRecord,
    ExportInfo,
    Item,
    LineRecord,
    Note,
    PaymentRecord,
)

COLUMNS = Columns(
    Column("record_type", ("type", "documenttype", "doctype", "recordtype", "transactiontype")),
    Column("id", ("documentid", "invoiceid", "recordid", "transactionid", "externalid")),
    Column("number", (
        "invoice", "invoicenumber", "invoiceno", "invoicenum", "docnumber",
        "documentnumber", "docno", "num", "no",
    ), required=True),
    Column("customer_id", (
        "account", "accountid", "customerid", "clientid", "accountnumber",
        "customernumber", "accountno", "customerno",
    )),
    Column("customer_name", (
        "customer", "client", "contact", "contactname", "name", "customername",
        "clientname", "accountname", "billto",
    )),
    Column("customer_email", (
        "email", "customeremail", "emailaddress", "contactemail", "billingemail",
    )),
    Column("parent_id", ("parentaccountid", "parentcustomerid")),
    Column("parent_name", ("parent", "parentaccount", "parentcustomer", "parentname")),
    Column("site", ("location", "servicelocation", "sitename", "job", "property", "serviceaddress")),
    Column("issue_date", (
        "date", "invoicedate", "issuedate", "txndate", "transactiondate", "documentdate",
        "issued",
    ), "date", required=True),
    Column("due_date", ("due", "duedate", "paymentdue", "dueon"), "date"),
    Column("currency", ("ccy", "currencycode"), "currency"),
    Column("status", ("state",)),
    Column("subtotal", ("net", "netamount", "amountexcltax", "amountbeforetax"), "amount"),
    Column("tax", ("taxamount", "taxtotal", "vat", "gst", "salestax", "totaltax"), "amount"),
    Column("total", ("amount", "invoicetotal", "grandtotal", "totalamount", "gross"), "amount", required=True),
    Column("amount_paid", ("paid", "paidamount", "amountreceived", "paymentsreceived"), "amount"),
    Column("amount_credited", ("credited", "creditapplied", "creditsapplied"), "amount"),
    Column("balance_due", (
        "amountdue", "openbalance", "balance", "outstanding", "unapplied",
        "remainingcredit", "remaining",
    ), "amount"),
    Column("applies_to", ("allocations", "appliedto", "appliesto")),
    Column("payment_method", ("method", "paymenttype", "paidby")),
    Column("reference", ("po", "ponumber", "purchaseorder", "customerreference", "ref", "yourref")),
    Column("memo", ("description", "notes", "note", "message", "comment")),
    Column("pay_url", ("paymentlink", "paylink", "paymenturl", "onlinepaymentlink", "payonline")),
    Column("updated_at", ("lastupdated", "updated", "modified", "lastmodified", "modifiedat"), "timestamp"),
    Column("line_no", ("linenumber", "line", "lineposition"), line=True),
    Column("line_description", ("itemdescription", "linememo"), line=True),
    Column("line_item", ("item", "itemcode", "product", "sku", "service"), line=True),
    Column("line_quantity", ("quantity", "qty"), "amount", line=True),
    Column("line_unit_price", ("unitprice", "rate", "price", "unitamount"), "amount", line=True),
    Column("line_amount", ("linetotal", "extendedamount", "lineamountexcltax"), "amount", line=True),
    Column("line_tax", ("linetaxamount",), "amount", line=True),
)  # fmt: skip
LINE_COLUMNS = (
    "line_description", "line_item", "line_quantity", "line_unit_price", "line_amount",
    "line_tax",
)  # fmt: skip
_FOOTER_WORDS = ("total", "grand total", "subtotal", "totals")
TYPES = {
    "invoice": "invoice", "inv": "invoice", "salesinvoice": "invoice",
    "creditnote": "credit_note", "creditmemo": "credit_note", "credit": "credit_note",
    "cn": "credit_note", "salescreditnote": "credit_note",
    "payment": "payment", "receipt": "payment", "paymentreceived": "payment",
}  # fmt: skip
INVOICE_STATUS = {
    "": ("issued", None), "draft": ("draft", None),
    "void": ("void", None), "voided": ("void", None), "cancelled": ("void", None),
    "canceled": ("void", None), "deleted": ("deleted", None),
    "paid": ("issued", True),
    "open": ("issued", False), "unpaid": ("issued", False), "sent": ("issued", False),
    "issued": ("issued", False), "awaitingpayment": ("issued", False),
    "due": ("issued", False), "outstanding": ("issued", False),
    "overdue": ("issued", False),
    "partiallypaid": ("issued", None), "partial": ("issued", None),
}  # fmt: skip
CREDIT_STATUS = {
    "": ("issued", None), "draft": ("draft", None), "void": ("void", None),
    "voided": ("void", None), "deleted": ("deleted", None),
    "open": ("issued", "open"), "unused": ("issued", "open"),
    "applied": ("issued", "applied"), "used": ("issued", "applied"),
    "paid": ("issued", "applied"), "refunded": ("issued", "applied"),
    "partiallyapplied": ("issued", None), "partial": ("issued", None),
}  # fmt: skip
PAYMENT_STATUS = {
    "": "active", "received": "active", "completed": "active", "cleared": "active",
    "paid": "active", "deposited": "active", "void": "void", "voided": "void",
    "bounced": "void", "reversed": "void", "cancelled": "void", "canceled": "void",
    "deleted": "deleted",
}  # fmt: skip


class GenericCsv(TabularAdapter):
    """Reads billfold's generic CSV contract; the registry's fallback."""

    name = "generic_csv"
    label = "generic CSV"
    columns = COLUMNS
    fallback = True  # tried only when no other adapter claims the file
    header_names = False  # rejections name billfold's own columns

    @classmethod
    def lacking(cls, found: Mapping[str, int]) -> list[str]:
        """A header needs a number, a customer, a date and a total."""
        missing = cls.columns.missing(found)
        if "customer_name" not in found and "customer_id" not in found:
            missing.append("customer_name (or customer_id)")
        return missing

    def check_columns(self, table: Table) -> None:
        """Refuse a header without its required columns or line columns without line_no."""
        found = table.columns
        missing = self.lacking(found)
        if missing:
            raise refuse_missing(table, missing)
        memo = found.get("memo")
        if (
            "line_no" in found
            and "line_description" not in found
            and memo is not None
            and normalise_header(table.header.cells[memo]) == "description"
        ):
            # In a one-row-per-line file a plain "Description" describes the line.
            table.rename("memo", "line_description")
        lines_present = [c for c in LINE_COLUMNS if c in found]
        if lines_present and "line_no" not in found:
            raise FileRejected(
                f"line columns ({', '.join(lines_present)}) need a line_no column so "
                "rows of one document can be told apart",
                line=table.header.line,
            )

    def export_info(self, table: Table) -> Iterator[Item]:
        """Name every column as the file does (a payment's number is its reference)."""
        yield ExportInfo(
            columns={**table.names, "payment.reference": table.names["number"]}
        )

    # -- rows to records --------------------------------------------------------------

    def is_data(self, table: Table, row: Row) -> bool:
        """Not a totals row: its number (or, with no number, its first text) says total."""
        number = table.cell(row, "number").strip().lower()
        first = number or next((c.strip().lower() for c in row.cells if c.strip()), "")
        return not (
            first.startswith(_FOOTER_WORDS) and not any(ch.isdigit() for ch in first)
        )

    def structure(self, table: Table, row: Row) -> Iterator[Item]:
        """A totals row is skipped with a note."""
        yield Note(f"skipped a total/footer row: {row.preview()}", row.line)

    def group_key(
        self, table: Table, row: Row, previous: Hashable | None
    ) -> Hashable | None:
        """One row per document, or consecutive rows of one type and number with line_no."""
        if "line_no" not in table.columns:
            return None
        return (
            table.cell(row, "record_type").strip().lower(),
            table.cell(row, "number").strip(),
        )

    def record_label(self, rows: Sequence[Values]) -> str:
        """``invoice 1004``, ``payment P-7``: the record type and number."""
        first = rows[0]
        kind = first.raw("record_type").strip() or "invoice"
        return f"{kind} {first.raw('number').strip()}".strip()

    def build(self, rows: Sequence[Values]) -> Iterator[Item]:
        """One document or payment from its rows."""
        first = rows[0]
        kind_text = first.raw("record_type")
        kind = TYPES.get(normalise_header(kind_text) or "invoice")
        if kind is None:
            raise CellError(
                kind_text, "record_type invoice, credit_note or payment", "record_type"
            )
        if not first.raw("number").strip():
            raise CellError("", "a document or payment number", "number")
        check_agreement(rows)
        if kind == "payment":
            yield self._payment(first)
        else:
            yield self._document(kind, rows)

    # -- cells ------------------------------------------------------------------------

    def _account(self, row: Values) -> AccountRecord:
        customer_id = real_id(row.raw("customer_id"))
        name = nfc_key(row.raw("customer_name"))
        if not customer_id and not name:
            given = row.raw("customer_id").strip()  # a placeholder, or nothing
            column = "customer_id" if given else "customer_name"
            raise CellError(given, "a customer name or a real id on every row", column)
        email = row.text("customer_email")
        parent_key = real_id(row.raw("parent_id")) or None
        parent_name = nfc_key(row.raw("parent_name")) or None
        if parent_key is None and parent_name:
            parent_key = parent_name
        key = customer_id or name
        site = nfc_key(row.raw("site"))
        if site:
            return AccountRecord(
                key=f"{key}:{site}",
                name=site,
                email=email,
                parent_key=key,
                parent_name=name or key,
            )
        return AccountRecord(
            key=key,
            name=name or key,
            email=email,
            parent_key=parent_key,
            parent_name=parent_name or parent_key,
        )

    def _id(self, row: Values) -> str:
        text = row.raw("id")
        return "" if is_placeholder_id(text) else text.strip()

    def _status(self, row: Values, table: Mapping[str, Any]) -> Any:
        status = normalise_header(row.raw("status"))
        if status not in table:
            expected = ", ".join(sorted(k for k in table if k))
            raise CellError(row.raw("status"), f"a status: {expected}", "status")
        return table[status]

    def _allocations(
        self, row: Values, kind: str, when: date | None, credit_ref: str | None
    ) -> list[AllocationRecord]:
        text = row.raw("applies_to").strip()
        if not text:
            return []
        result = []
        for part in text.replace("|", ";").split(";"):
            if not part.strip():
                continue
            ref, sep, amount_text = part.partition("=")
            try:
                amount = parse_amount(amount_text) if sep else None
            except CellError:
                amount = None
            if not ref.strip() or amount is None:
                raise CellError(
                    text,
                    "allocations written NUMBER=AMOUNT separated by ';' "
                    "(e.g. 1006=721.15;1014=278.85)",
                    "applies_to",
                )
            result.append(
                AllocationRecord(
                    kind=kind,  # type: ignore[arg-type]  # one of DocumentKind's values, mapped above
                    invoice_ref=ref.strip(),
                    amount=abs(amount),
                    date=when,
                    credit_note_ref=credit_ref,
                )
            )
        return result

    # -- records --------------------------------------------------------------------

    def _document(self, kind: str, rows: Sequence[Values]) -> DocumentRecord:
        row = rows[0]
        number = row.raw("number").strip()
        issue_date = row.required("issue_date", "an issue date")
        total = row.required("total", "a total")
        lifecycle, hint = self._status(
            row, INVOICE_STATUS if kind == "invoice" else CREDIT_STATUS
        )
        balance = row["balance_due"]
        subtotal, tax = row["subtotal"], row["tax"]
        paid = row["amount_paid"]
        credited = row["amount_credited"]
        if kind == "credit_note":
            total, subtotal, tax = abs(total), _abs(subtotal), _abs(tax)
            balance = _abs(balance)
            if balance is None and hint == "open":
                balance = total
            elif balance is None and hint == "applied":
                balance = Decimal(0)
        elif total < 0:
            raise CellError(
                row.raw("total"),
                "a positive invoice total (a credit belongs in a credit_note row)",
                "total",
            )
        external_id = self._id(row) or number
        record = DocumentRecord(
            kind=kind,  # type: ignore[arg-type]  # one of DocumentKind's values, mapped above
            external_id=external_id,
            number=number,
            account=self._account(row),
            issue_date=issue_date,
            due_date=row["due_date"],
            currency=row["currency"],
            subtotal=subtotal,
            tax=tax,
            total=total,
            lifecycle=lifecycle,
            amount_paid=paid if kind == "invoice" else None,
            amount_credited=credited if kind == "invoice" else None,
            balance=balance,
            paid_flag=hint if kind == "invoice" else None,
            reference=row.text("reference"),
            memo=row.text("memo"),
            pay_url=row.text("pay_url"),
            updated_at=row["updated_at"],
            line=row.line,
        )
        if kind == "credit_note":
            record.allocations = self._allocations(
                row, "credit", issue_date, external_id
            )
        if "line_no" in row.table.columns:
            record.lines = self._lines(rows)
        return record

    def _lines(self, rows: Sequence[Values]) -> list[LineRecord]:
        lines: list[LineRecord] = []
        seen: dict[int, tuple[str, ...]] = {}
        for row in rows:
            text = row.raw("line_no").strip()
            try:
                position = int(text)
            except ValueError:
                raise CellError(text, "a whole line number", "line_no") from None
            cells = tuple(row.row.cells)
            if position in seen:
                if seen[position] == cells:
                    continue  # an exact duplicate row; the document keeps one
                raise CellError(
                    text,
                    "each line_no once per document (two different rows)",
                    "line_no",
                )
            seen[position] = cells
            lines.append(
                LineRecord(
                    position=position,
                    description=row.raw("line_description").strip(),
                    item=row.text("line_item"),
                    quantity=row["line_quantity"],
                    unit_price=row["line_unit_price"],
                    amount=row["line_amount"],
                    tax=row["line_tax"],
                )
            )
        return lines

    def _payment(self, row: Values) -> PaymentRecord:
        number = row.raw("number").strip()
        received = row.required("issue_date", "the date the payment was received")
        amount = row.required("total", "the amount received")
        lifecycle = self._status(row, PAYMENT_STATUS)
        account = self._account(row)
        external_id = self._id(row) or f"{account.key}/{number}"
        return PaymentRecord(
            external_id=external_id,
            account=account,
            date=received,
            amount=abs(amount),
            currency=row["currency"],
            method=row.text("payment_method"),
            reference=number,
            memo=row.text("memo"),
            unapplied=_abs(row["balance_due"]),
            lifecycle=lifecycle,
            updated_at=row["updated_at"],
            allocations=self._allocations(row, "cash", received, None),
            line=row.line,
        )


def _abs(value: Decimal | None) -> Decimal | None:
    return None if value is None else abs(value)
