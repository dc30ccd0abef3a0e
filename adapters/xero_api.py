"""Xero Accounting API JSON: Invoices, CreditNotes, Payments and Contacts responses.

A real response holds one collection under Xero's envelope (``{"Id", "Status",
"ProviderName", "DateTimeUTC", "Invoices": [...]}``); a merged file may hold several.
All are read in one streaming pass (FORMATS.md section 7); Overpayments and
Prepayments are cash received (``adapters.xero_prepayments``).

Each payment, credit allocation and amount is counted once: cash comes only from the
``Payments`` collection (one Xero payment settles exactly one invoice; a cheque over
several invoices is several payments sharing a ``BatchPaymentID``) and credit only from
each credit note's ``Allocations``. The ``Payments[]`` and ``CreditNotes[]`` stubs inside
an invoice describe the same money and are not read; the invoice's own ``AmountDue``,
``AmountPaid`` and ``AmountCredited`` carry its figures even when the file holds no
payments or credit notes.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from adapters import xero_copy as copy
from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import CellError, FileRejected
from adapters.toolkit.columns import nfc_key
from adapters.toolkit.json_fields import Fields, JsonRules, fields, refused_email
from adapters.toolkit.json_stream import iter_items, top_level_keys, utf8_binary
from adapters.toolkit.keys import real_id
from adapters.toolkit.text import HEAD_SIZE
from adapters.xero_prepayments import COLLECTIONS as PREPAYMENTS
from adapters.xero_prepayments import prepayment_record, refunds
from schemas.money import is_currency_code
from schemas.records import (
    AccountRecord,
    AllocationRecord,
    DocumentRecord,
    ExportInfo,
    Item,
    LineRecord,
    Note,
    PaymentRecord,
    Rejection,
)

COLLECTIONS = ("Invoices", "CreditNotes", "Payments", "Contacts", *PREPAYMENTS)
PREFIXES = ("DateTimeUTC", *(f"{c}.item" for c in COLLECTIONS))
# Keys only Xero writes; a JSON object with a collection key and one of these is ours.
_XERO_FIELD = re.compile(
    r'"(?:InvoiceID|CreditNoteID|PaymentID|ContactID|OverpaymentID|PrepaymentID|'
    r'DateTimeUTC|ProviderName)"\s*:'
)

DOCUMENT_LIFECYCLE = {
    "DRAFT": "draft", "SUBMITTED": "draft", "AUTHORISED": "issued", "PAID": "issued",
    "VOIDED": "void", "DELETED": "deleted",
}  # fmt: skip
PAYMENT_LIFECYCLE = {"AUTHORISED": "active", "DELETED": "deleted"}
# Money paid back to a customer: not cash received. The credit note (or overpayment)
# it refunds already shows the reduced remaining credit.
REFUND_TYPES = ("ARCREDITPAYMENT", "AROVERPAYMENTPAYMENT", "ARPREPAYMENTPAYMENT")
SUPPLIER_PAYMENT_TYPES = (
    "ACCPAYPAYMENT", "APCREDITPAYMENT", "APOVERPAYMENTPAYMENT", "APPREPAYMENTPAYMENT",
)  # fmt: skip

_CONTACT = "a Contact object with a ContactID"
# Xero writes dates /Date(ms±hhmm)/ or ISO; a rejection shows a value in full.
RULES = JsonRules(
    amount="an amount (a JSON number such as 1234.56)",
    date="a Xero date such as /Date(1740960000000+0000)/ or 2025-03-03",
    epoch_dates=True,
    null_shown="",
    clip_text=False,
)


class XeroApi:
    """Reads Xero Accounting API responses (and merged files of several)."""

    name = "xero_api"
    label = "Xero API JSON"

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim a JSON object with a Xero collection key and a Xero-only field."""
        if head.text is None:
            return False
        if not top_level_keys(head.text) & set(COLLECTIONS):
            return False
        return _XERO_FIELD.search(head.text) is not None

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the contacts, sales invoices, credit notes and payments of a response."""
        yield from _Reader().read(export)


def _currency(f: Fields) -> str | None:
    code = f.text("CurrencyCode")
    if code is not None and not is_currency_code(code):
        raise CellError(
            code,
            "a three-letter ISO currency code such as USD",
            f.column("CurrencyCode"),
        )
    return code


def _document_date(f: Fields, key: str) -> date | None:
    """Return ``Date`` (or ``DueDate``), checked against its ``...String`` twin."""
    when = f.date(key)
    twin = f.date(key + "String")
    if when is not None and twin is not None and when != twin:
        raise CellError(
            f.show(key),
            f"{key} and {key}String naming the same day ({when} and {twin})",
            f.column(key),
        )
    return when or twin


def _abs(value: Decimal | None) -> Decimal | None:
    return None if value is None else abs(value)


# -- records --------------------------------------------------------------------------


@dataclass
class _Skipped:
    """Documents left out on purpose, summarised in one Note per kind."""

    one: str
    many: str
    why: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str | None) -> None:
        self.count += 1
        if example and len(self.examples) < 3:
            self.examples.append(example)

    def note(self) -> Note:
        what = self.one if self.count == 1 else self.many
        examples = f", e.g. {', '.join(self.examples)}" if self.examples else ""
        return Note(f"skipped {self.count} {what}{examples}: {self.why}")


class _Reader:
    """One pass over one file: records in file order, payments needing an invoice last."""

    def __init__(self) -> None:
        self.contacts: dict[str, AccountRecord] = {}
        # InvoiceID -> (ContactID, CurrencyCode) of every sales invoice read so far, so a
        # payment without Invoice.Contact can still be given its account.
        self.invoices: dict[str, tuple[str, str | None]] = {}
        self.waiting: list[tuple[int, dict[str, Any]]] = []
        self.seen_record = False
        self.found_items = False
        self.refused: list[Rejection] = []  # bad email cells of records kept
        self.refused_seen: set[tuple[str, str]] = set()
        self.skipped = {
            "bill": _Skipped(
                "bill (an Invoice of Type ACCPAY)",
                "bills (Invoices of Type ACCPAY)",
                "billfold imports sales invoices (ACCREC) only",
            ),
            "purchase_credit": _Skipped(
                "purchase credit note (Type ACCPAYCREDIT)",
                "purchase credit notes (Type ACCPAYCREDIT)",
                "billfold imports sales credit notes (ACCRECCREDIT) only",
            ),
            "refund": _Skipped(
                "refund to a customer (PaymentType ARCREDITPAYMENT, "
                "AROVERPAYMENTPAYMENT or ARPREPAYMENTPAYMENT)",
                "refunds to customers (PaymentType ARCREDITPAYMENT, "
                "AROVERPAYMENTPAYMENT or ARPREPAYMENTPAYMENT)",
                "money paid back is not cash received; the refund is read from the "
                "Payments of the credit note, overpayment or prepayment it pays back",
            ),
            "supplier_payment": _Skipped(
                "supplier payment (an AP PaymentType)",
                "supplier payments (AP PaymentTypes)",
                "billfold imports customer payments (ACCRECPAYMENT) only",
            ),
            "supplier": _Skipped(
                "supplier contact (IsSupplier without IsCustomer)",
                "supplier contacts (IsSupplier without IsCustomer)",
                "only customers get accounts",
            ),
            "deleted_allocation": _Skipped(
                "deleted credit allocation (IsDeleted true)",
                "deleted credit allocations (IsDeleted true)",
                "they no longer apply credit to an invoice",
            ),
            "supplier_prepayment": _Skipped(
                "supplier overpayment or prepayment (Type SPEND-...)",
                "supplier overpayments and prepayments (Type SPEND-...)",
                "billfold imports what customers paid (RECEIVE-...) only",
            ),
        }

    def read(self, export: ExportFile) -> Iterator[Item]:
        for prefix, index, value in iter_items(export, PREFIXES):
            if prefix == "DateTimeUTC":
                yield from self._envelope_time(value)
                continue
            self.found_items = True
            collection = prefix.partition(".")[0]
            for item in self._item(collection, index, value):
                if isinstance(item, AccountRecord | DocumentRecord | PaymentRecord):
                    self.seen_record = True
                    yield item
                    yield from self.refused
                else:
                    yield item
                self.refused.clear()
        for index, value in self.waiting:
            yield from self._payment(index, value, final=True)
        for skipped in self.skipped.values():
            if skipped.count:
                yield skipped.note()
        if not self.found_items:
            self._check_envelope(export)

    def _envelope_time(self, value: Any) -> Iterator[Item]:
        if self.seen_record:
            return  # an export time after the records cannot date them any more
        try:
            as_of = Fields({"DateTimeUTC": value}, RULES).timestamp("DateTimeUTC")
        except CellError as exc:
            yield Note(
                f"ignored the response's DateTimeUTC {exc.value!r}: expected {exc.expected}"
            )
            return
        if as_of is not None:
            yield ExportInfo(as_of=as_of)

    def _check_envelope(self, export: ExportFile) -> None:
        """A file with no records must at least be a Xero response (an empty page)."""
        with utf8_binary(export) as file:
            head = file.read(HEAD_SIZE).decode("utf-8", errors="ignore")
        if not top_level_keys(head) & set(COLLECTIONS):
            raise FileRejected(
                "expected a Xero API response: a JSON object with Invoices, "
                "CreditNotes, Payments, Contacts, Overpayments or Prepayments"
            )

    def _item(self, collection: str, index: int, value: Any) -> Iterator[Item]:
        if collection == "Invoices":
            return self._invoice(index, value)
        if collection == "CreditNotes":
            return self._credit_note(index, value)
        if collection == "Payments":
            return self._payment(index, value, final=False)
        if collection in PREPAYMENTS:
            return self._prepayment(PREPAYMENTS[collection], index, value)
        return self._contact(index, value)

    # -- accounts -------------------------------------------------------------------

    def _account(self, contact: Fields) -> AccountRecord:
        """Return the account a Contact object names."""
        key = real_id(contact.required_text("ContactID", "a ContactID"))
        if not key:  # the all-zero GUID or "null" is no id
            raise CellError(
                contact.text("ContactID") or "",
                "a real ContactID",
                contact.column("ContactID"),
            )
        name = nfc_key(contact.text("Name") or "")
        try:
            email = contact.email("EmailAddress")
        except CellError as exc:  # said once per contact and address
            email = None
            if (key, exc.value) not in self.refused_seen:
                self.refused_seen.add((key, exc.value))
                self.refused.append(refused_email(exc, f"contact {name or key}"))
        known = self.contacts.get(key)
        if known is not None:
            name, email = name or known.name, email or known.email
        record = AccountRecord(key=key, name=name or key, email=email)
        if known is None or (record.name, record.email) != (known.name, known.email):
            self.contacts[sys.intern(key)] = record
        return record

    def _contact(self, index: int, value: Any) -> Iterator[Item]:
        where = f"Contacts[{index}]"
        label = _label("contact", value, "Name", where)
        try:
            contact = fields(value, RULES, where, "a contact object")
            contact.required_text("Name", "a contact Name")
            if value.get("IsSupplier") is True and value.get("IsCustomer") is not True:
                self.skipped["supplier"].add(contact.text("Name"))
                return
            yield self._account(contact)
        except CellError as exc:
            yield _rejection(exc, label)

    # -- invoices and credit notes --------------------------------------------------

    def _invoice(self, index: int, value: Any) -> Iterator[Item]:
        where = f"Invoices[{index}]"
        label = _label("invoice", value, "InvoiceNumber", where)
        try:
            raw = fields(value, RULES, where, "an invoice object")
            kind = raw.text("Type")
            if kind == "ACCPAY":
                self.skipped["bill"].add(raw.text("InvoiceNumber"))
                return
            if kind != "ACCREC":
                raise CellError(
                    kind or "", "Type ACCREC (sales invoice) or ACCPAY (bill)", "Type"
                )
            record = self._document("invoice", raw, "InvoiceID", "InvoiceNumber")
            attached = copy.attachments(raw, "invoice", record.external_id)
        except CellError as exc:
            yield _rejection(exc, label)
            return
        self.invoices[record.external_id] = (
            sys.intern(record.account.key),
            record.currency,
        )
        yield record
        yield from attached

    def _credit_note(self, index: int, value: Any) -> Iterator[Item]:
        where = f"CreditNotes[{index}]"
        label = _label("credit note", value, "CreditNoteNumber", where)
        try:
            raw = fields(value, RULES, where, "a credit note object")
            kind = raw.text("Type")
            if kind == "ACCPAYCREDIT":
                self.skipped["purchase_credit"].add(raw.text("CreditNoteNumber"))
                return
            if kind != "ACCRECCREDIT":
                raise CellError(
                    kind or "",
                    "Type ACCRECCREDIT (sales credit note) or ACCPAYCREDIT",
                    "Type",
                )
            record = self._document(
                "credit_note", raw, "CreditNoteID", "CreditNoteNumber"
            )
            record.allocations = self._allocations(raw, record.external_id)
            record.refunded, record.refunded_on = refunds(raw)
            attached = copy.attachments(raw, "credit_note", record.external_id)
        except CellError as exc:
            yield _rejection(exc, label)
            return
        yield record
        yield from attached

    def _document(
        self, kind: str, raw: Fields, id_key: str, number_key: str
    ) -> DocumentRecord:
        what = "an invoice" if kind == "invoice" else "a credit note"
        external_id = raw.required_text(id_key, f"{what} id ({id_key})")
        number = raw.required_text(number_key, f"{what} number ({number_key})")
        status = raw.text("Status") or ""
        lifecycle = raw.enum(
            "Status", DOCUMENT_LIFECYCLE, f"a Status: {', '.join(DOCUMENT_LIFECYCLE)}"
        )
        total = raw.required_amount("Total", "a Total")
        subtotal, tax = raw.amount("SubTotal"), raw.amount("TotalTax")
        balance = raw.amount("AmountDue" if kind == "invoice" else "RemainingCredit")
        if kind == "invoice":
            if total < 0:
                raise CellError(
                    raw.show("Total"),
                    "an invoice Total of zero or more (credits are CreditNotes)",
                    "Total",
                )
            paid, credited = raw.amount("AmountPaid"), raw.amount("AmountCredited")
        else:
            # Xero writes credit notes positive; a signed copy keeps its magnitude.
            total, subtotal, tax = abs(total), _abs(subtotal), _abs(tax)
            balance, paid, credited = _abs(balance), None, None
        return DocumentRecord(
            kind=kind,  # type: ignore[arg-type]  # one of DocumentKind's values, mapped above
            external_id=external_id,
            number=number,
            account=self._account(raw.object("Contact", _CONTACT)),
            issue_date=_document_date(raw, "Date"),
            due_date=_document_date(raw, "DueDate") if kind == "invoice" else None,
            total=total,
            currency=_currency(raw),
            subtotal=subtotal,
            tax=tax,
            lifecycle=lifecycle,
            amount_paid=paid,
            amount_credited=credited,
            balance=balance,
            paid_flag=True if kind == "invoice" and status == "PAID" else None,
            reference=raw.text("Reference"),
            updated_at=raw.timestamp("UpdatedDateUTC"),
            lines=_lines(raw),
            # List calls without page= leave LineItems out: keep the stored lines.
            lines_known="LineItems" in raw.data,
            tax_mode=copy.tax_mode(raw),
            exchange_rate=copy.exchange_rate(raw),
        )

    def _allocations(self, raw: Fields, credit_note_id: str) -> list[AllocationRecord]:
        result = []
        for allocation in raw.objects(
            "Allocations", "a list of Allocations", "an allocation object"
        ):
            if allocation.data.get("IsDeleted") is True:
                self.skipped["deleted_allocation"].add(None)
                continue
            invoice = allocation.object(
                "Invoice", "the Invoice the credit was allocated to"
            )
            amount = allocation.required_amount("Amount", "the amount allocated")
            result.append(
                AllocationRecord(
                    kind="credit",
                    invoice_ref=invoice.required_text("InvoiceID", "an InvoiceID"),
                    amount=abs(amount),
                    date=allocation.date("Date"),
                    credit_note_ref=credit_note_id,
                )
            )
        return result

    # -- payments -------------------------------------------------------------------

    def _prepayment(self, one: str, index: int, value: Any) -> Iterator[Item]:
        """An Overpayment or Prepayment: cash received, applied or on account."""
        where = f"{one}s[{index}]"
        what = f"an {one.lower()}" if one[0] == "O" else f"a {one.lower()}"
        label = _label(one.lower(), value, "Reference", where)
        try:
            raw = fields(value, RULES, where, f"{what} object")
            kind = raw.text("Type")
            if kind == f"SPEND-{one.upper()}":
                self.skipped["supplier_prepayment"].add(raw.text(f"{one}ID"))
                return
            if kind is not None and kind != f"RECEIVE-{one.upper()}":
                raise CellError(
                    kind, f"Type RECEIVE-{one.upper()} or SPEND-{one.upper()}", "Type"
                )
            account = self._account(raw.object("Contact", _CONTACT))
            record, deleted = prepayment_record(one, raw, account, _currency(raw))
        except CellError as exc:
            yield _rejection(exc, label)
            return
        for _ in range(deleted):
            self.skipped["deleted_allocation"].add(None)
        yield record

    def _payment(self, index: int, value: Any, *, final: bool) -> Iterator[Item]:
        where = f"Payments[{index}]"
        label = _label("payment", value, "Reference", where)
        try:
            raw = fields(value, RULES, where, "a payment object")
            invoice = None
            if raw.raw("Invoice") is not None:
                invoice = raw.object("Invoice", "the Invoice the payment settles")
            kind = raw.text("PaymentType")
            if kind is None and invoice is not None:
                # Every payment on a sales invoice is an ACCRECPAYMENT.
                invoice_type = invoice.text("Type")
                kind = {"ACCREC": "ACCRECPAYMENT", "ACCPAY": "ACCPAYPAYMENT"}.get(
                    invoice_type or ""
                )
            if kind in REFUND_TYPES:
                self.skipped["refund"].add(raw.text("Reference"))
                return
            if kind in SUPPLIER_PAYMENT_TYPES:
                self.skipped["supplier_payment"].add(raw.text("Reference"))
                return
            if kind != "ACCRECPAYMENT":
                raise CellError(
                    kind or "",
                    "a PaymentType: ACCRECPAYMENT (imported), ARCREDITPAYMENT or an AP "
                    "type (skipped)",
                    "PaymentType",
                )
            if invoice is None:
                raise CellError("", "the Invoice the payment settles", "Invoice")
            invoice_id = invoice.required_text(
                "InvoiceID", "the InvoiceID the payment settles"
            )
            account, currency = self._payment_account(invoice, invoice_id)
            unknown = account is None or currency is None
            if unknown and not final and invoice_id not in self.invoices:
                self.waiting.append((index, value))  # its invoice may come later
                return
            if account is None:
                raise CellError(
                    "",
                    "Invoice.Contact.ContactID, or the paid invoice in the same file",
                    "Invoice.Contact",
                )
            yield self._payment_record(raw, invoice_id, account, currency)
        except CellError as exc:
            yield _rejection(exc, label)

    def _payment_account(
        self, invoice: Fields, invoice_id: str
    ) -> tuple[AccountRecord | None, str | None]:
        """Return the payment's account and currency: its own, else its invoice's."""
        known = self.invoices.get(invoice_id)
        account = None
        if invoice.raw("Contact") is not None and real_id(
            invoice.object("Contact", "a Contact object").text("ContactID")
        ):
            account = self._account(invoice.object("Contact", _CONTACT))
        elif known is not None:
            account = self.contacts.get(known[0]) or AccountRecord(known[0], known[0])
        currency = _currency(invoice)
        if currency is None and known is not None:
            currency = known[1]
        return account, currency

    def _payment_record(
        self,
        raw: Fields,
        invoice_id: str,
        account: AccountRecord,
        currency: str | None,
    ) -> PaymentRecord:
        payment_id = raw.required_text("PaymentID", "a PaymentID")
        lifecycle = raw.enum(
            "Status", PAYMENT_LIFECYCLE, "a Status: AUTHORISED or DELETED"
        )
        amount = raw.required_amount("Amount", "the amount received")
        if amount < 0:
            raise CellError(raw.show("Amount"), "an Amount of zero or more", "Amount")
        received = raw.date("Date")
        if received is None:
            raise CellError("", "the date the payment was received", "Date")
        # A deleted payment must stop counting, on its invoice too.
        allocations = (
            [AllocationRecord("cash", invoice_id, amount, received)]
            if lifecycle == "active"
            else []
        )
        return PaymentRecord(
            external_id=payment_id,
            account=account,
            date=received,
            amount=amount,
            currency=currency,
            reference=raw.text("Reference"),
            unapplied=Decimal(0),  # a Xero payment settles exactly one document
            lifecycle=lifecycle,
            updated_at=raw.timestamp("UpdatedDateUTC"),
            allocations=allocations,
        )


def _lines(raw: Fields) -> list[LineRecord]:
    return [
        LineRecord(
            position=i + 1,
            description=line.text("Description") or "",
            item=line.text("ItemCode"),
            quantity=line.amount("Quantity"),
            unit_price=line.amount("UnitAmount"),
            amount=line.amount("LineAmount"),
            tax=line.amount("TaxAmount"),
        )
        for i, line in enumerate(
            raw.objects("LineItems", "a list of LineItems", "a line item object")
        )
    ]


def _label(kind: str, value: Any, number_key: str, where: str) -> str:
    number = value.get(number_key) if isinstance(value, dict) else None
    if isinstance(number, str) and number.strip():
        return f"{kind} {number.strip()} ({where})"
    return f"{kind} ({where})"


def _rejection(exc: CellError, label: str) -> Rejection:
    return Rejection(
        reason=f"expected {exc.expected}",
        record=label,
        column=exc.column,
        value=exc.value,
    )
