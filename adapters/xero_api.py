"""Xero Accounting API JSON: Invoices, CreditNotes, Payments and Contacts responses.

A real response holds one collection under Xero's envelope (``{"Id", "Status",
"ProviderName", "DateTimeUTC", "Invoices": [...]}``); a merged file may hold several.
All four are read in one streaming pass (FORMATS.md section 7).

Each payment, credit allocation and amount is counted once: cash comes only from the
``Payments`` collection (one Xero payment settles exactly one invoice; a cheque over
several invoices is several payments sharing a ``BatchPaymentID``) and credit only from
each credit note's ``Allocations``. The ``Payments[]`` and ``CreditNotes[]`` stubs inside
an invoice describe the same money and are not read; the invoice's own ``AmountDue``,
``AmountPaid`` and ``AmountCredited`` carry its figures even when the file holds no
payments or credit notes.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from adapters.base import ExportFile, Head, ParseOptions
from adapters.columns import nfc_key
from adapters.errors import CellError, FileRejected
from adapters.json_stream import iter_items, top_level_keys, utf8_binary
from adapters.keys import real_id
from adapters.text import HEAD_SIZE
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

COLLECTIONS = ("Invoices", "CreditNotes", "Payments", "Contacts")
UNREAD_COLLECTIONS = ("Overpayments", "Prepayments")
PREFIXES = (
    "DateTimeUTC",
    *(f"{c}.item" for c in COLLECTIONS),
    *(f"{c}.item" for c in UNREAD_COLLECTIONS),
)
# Keys only Xero writes; a JSON object with a collection key and one of these is ours.
_XERO_FIELD = re.compile(
    r'"(?:InvoiceID|CreditNoteID|PaymentID|ContactID|DateTimeUTC|ProviderName)"\s*:'
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

_XERO_DATE = re.compile(r"^/Date\((-?\d{1,16})(?:([+-])(\d{2})(\d{2}))?\)/$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ][0-9:.]+)?$")
_PLAIN_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
XERO_DATE_EXPECTED = "a Xero date such as /Date(1740960000000+0000)/ or 2025-03-03"
AMOUNT_EXPECTED = "an amount (a JSON number such as 1234.56)"


class XeroApi:
    """Reads Xero Accounting API responses (and merged files of several)."""

    name = "xero_api"
    label = "Xero API JSON"

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim a JSON object with a Xero collection key and a Xero-only field."""
        if head.text is None:
            return False
        if not top_level_keys(head.text) & {*COLLECTIONS, *UNREAD_COLLECTIONS}:
            return False
        return _XERO_FIELD.search(head.text) is not None

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the contacts, sales invoices, credit notes and payments of a response."""
        yield from _Reader().read(export)


# -- cells ----------------------------------------------------------------------------


def _raw(value: Any) -> str:
    """Return a value as the admin should see it in a rejection."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _object(value: Any, path: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CellError(_raw(value), what, path)
    return value


def _text(obj: dict[str, Any], key: str, path: str = "") -> str | None:
    """Return a text field stripped, None when absent, null or empty."""
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CellError(_raw(value), "text", path + key)
    return value.strip() or None


def _required_text(obj: dict[str, Any], key: str, what: str, path: str = "") -> str:
    value = _text(obj, key, path)
    if value is None:
        raise CellError("", what, path + key)
    return value


def _amount(obj: dict[str, Any], key: str, path: str = "") -> Decimal | None:
    """Return a money field as Decimal (never float), None when absent or null."""
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool):
        raise CellError(_raw(value), AMOUNT_EXPECTED, path + key)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    if isinstance(value, str) and _PLAIN_NUMBER.match(value.strip()):
        return Decimal(value.strip())
    raise CellError(_raw(value), AMOUNT_EXPECTED, path + key)


def _required_amount(
    obj: dict[str, Any], key: str, what: str, path: str = ""
) -> Decimal:
    value = _amount(obj, key, path)
    if value is None:
        raise CellError("", what, path + key)
    return value


def _abs(value: Decimal | None) -> Decimal | None:
    return None if value is None else abs(value)


def _xero_moment(text: str, column: str) -> tuple[datetime, datetime] | None:
    """Return (UTC, local) naive times of ``/Date(ms±hhmm)/``; None for other text.

    The milliseconds count from the epoch in UTC; the optional offset says where the
    organisation's clock stood, so the local time is the calendar day Xero shows.
    """
    m = _XERO_DATE.match(text)
    if not m:
        return None
    sign, hours, minutes = m.group(2), m.group(3), m.group(4)
    offset = timedelta(0)
    if sign:
        if int(hours) > 14 or int(minutes) > 59:
            raise CellError(text, XERO_DATE_EXPECTED + " (offset out of range)", column)
        offset = timedelta(hours=int(hours), minutes=int(minutes))
        offset = -offset if sign == "-" else offset
    try:
        moment = (_EPOCH + timedelta(milliseconds=int(m.group(1)))).replace(tzinfo=None)
        return moment, moment + offset
    except OverflowError:
        raise CellError(
            text, XERO_DATE_EXPECTED + " (a date between years 1 and 9999)", column
        ) from None


def _date_text(obj: dict[str, Any], key: str, path: str) -> tuple[str, str] | None:
    """Return (text, column) of a Xero date field, or None when it is absent or blank."""
    value = obj.get(key)
    if value is None:
        return None
    column = path + key
    if not isinstance(value, str):
        raise CellError(_raw(value), XERO_DATE_EXPECTED, column)
    text = value.strip()
    return (text, column) if text else None


def _calendar_date(obj: dict[str, Any], key: str, path: str = "") -> date | None:
    """Return the calendar day a Xero date field names (its own offset applied)."""
    given = _date_text(obj, key, path)
    if given is None:
        return None
    text, column = given
    found = _xero_moment(text, column)
    if found is not None:
        return found[1].date()
    if _ISO_DAY.match(text):
        try:
            return date.fromisoformat(text[:10])
        except ValueError as exc:
            raise CellError(text, f"a real calendar date ({exc})", column) from None
    raise CellError(text, XERO_DATE_EXPECTED, column)


def _timestamp(obj: dict[str, Any], key: str, path: str = "") -> datetime | None:
    """Return a Xero ``...UTC`` timestamp as naive UTC."""
    given = _date_text(obj, key, path)
    if given is None:
        return None
    text, column = given
    found = _xero_moment(text, column)
    if found is not None:
        return found[0]
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise CellError(text, XERO_DATE_EXPECTED, column) from None
    return moment


def _document_date(obj: dict[str, Any], key: str) -> date | None:
    """Return ``Date`` (or ``DueDate``), checked against its ``...String`` twin."""
    when = _calendar_date(obj, key)
    twin = _calendar_date(obj, key + "String")
    if when is not None and twin is not None and when != twin:
        raise CellError(
            _raw(obj.get(key)),
            f"{key} and {key}String naming the same day ({when} and {twin})",
            key,
        )
    return when or twin


def _currency(obj: dict[str, Any], path: str = "") -> str | None:
    code = _text(obj, "CurrencyCode", path)
    if code is not None and not is_currency_code(code):
        raise CellError(
            code, "a three-letter ISO currency code such as USD", path + "CurrencyCode"
        )
    return code


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
                "money paid back is not cash received; the refunded credit note's "
                "RemainingCredit already shows it",
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
            "unread": _Skipped(
                "Overpayment/Prepayment",
                "Overpayments/Prepayments",
                "billfold does not read them, so credit a customer has not yet applied "
                "to an invoice is missing from its balances (amounts applied are in "
                "each invoice's AmountCredited)",
            ),
        }

    def read(self, export: ExportFile) -> Iterator[Item]:
        for prefix, index, value in iter_items(export, PREFIXES):
            if prefix == "DateTimeUTC":
                yield from self._envelope_time(value)
                continue
            self.found_items = True
            collection = prefix.partition(".")[0]
            if collection in UNREAD_COLLECTIONS:
                self.skipped["unread"].add(None)
                continue
            for item in self._item(collection, index, value):
                if isinstance(item, AccountRecord | DocumentRecord | PaymentRecord):
                    self.seen_record = True
                yield item
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
            as_of = _timestamp({"DateTimeUTC": value}, "DateTimeUTC")
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
        if not top_level_keys(head) & {*COLLECTIONS, *UNREAD_COLLECTIONS}:
            raise FileRejected(
                "expected a Xero API response: a JSON object with Invoices, "
                "CreditNotes, Payments or Contacts"
            )

    def _item(self, collection: str, index: int, value: Any) -> Iterator[Item]:
        if collection == "Invoices":
            return self._invoice(index, value)
        if collection == "CreditNotes":
            return self._credit_note(index, value)
        if collection == "Payments":
            return self._payment(index, value, final=False)
        return self._contact(index, value)

    # -- accounts -------------------------------------------------------------------

    def _account(self, contact: Any, path: str) -> AccountRecord:
        """Return the account a Contact object names (*path* is where it sits)."""
        prefix = f"{path}." if path else ""
        contact = _object(
            contact, path or "Contact", "a Contact object with a ContactID"
        )
        key = real_id(_required_text(contact, "ContactID", "a ContactID", prefix))
        if not key:  # the all-zero GUID or "null" is no id
            raise CellError(
                _text(contact, "ContactID") or "",
                "a real ContactID",
                prefix + "ContactID",
            )
        name = nfc_key(_text(contact, "Name", prefix) or "")
        email = _text(contact, "EmailAddress", prefix)
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
            contact = _object(value, where, "a contact object")
            _required_text(contact, "Name", "a contact Name")
            if (
                contact.get("IsSupplier") is True
                and contact.get("IsCustomer") is not True
            ):
                self.skipped["supplier"].add(_text(contact, "Name"))
                return
            yield self._account(contact, "")
        except CellError as exc:
            yield _rejection(exc, label)

    # -- invoices and credit notes --------------------------------------------------

    def _invoice(self, index: int, value: Any) -> Iterator[Item]:
        where = f"Invoices[{index}]"
        label = _label("invoice", value, "InvoiceNumber", where)
        try:
            raw = _object(value, where, "an invoice object")
            kind = _text(raw, "Type")
            if kind == "ACCPAY":
                self.skipped["bill"].add(_text(raw, "InvoiceNumber"))
                return
            if kind != "ACCREC":
                raise CellError(
                    kind or "", "Type ACCREC (sales invoice) or ACCPAY (bill)", "Type"
                )
            record = self._document("invoice", raw, "InvoiceID", "InvoiceNumber")
        except CellError as exc:
            yield _rejection(exc, label)
            return
        self.invoices[record.external_id] = (
            sys.intern(record.account.key),
            record.currency,
        )
        yield record

    def _credit_note(self, index: int, value: Any) -> Iterator[Item]:
        where = f"CreditNotes[{index}]"
        label = _label("credit note", value, "CreditNoteNumber", where)
        try:
            raw = _object(value, where, "a credit note object")
            kind = _text(raw, "Type")
            if kind == "ACCPAYCREDIT":
                self.skipped["purchase_credit"].add(_text(raw, "CreditNoteNumber"))
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
        except CellError as exc:
            yield _rejection(exc, label)
            return
        yield record

    def _document(
        self, kind: str, raw: dict[str, Any], id_key: str, number_key: str
    ) -> DocumentRecord:
        what = "an invoice" if kind == "invoice" else "a credit note"
        external_id = _required_text(raw, id_key, f"{what} id ({id_key})")
        number = _required_text(raw, number_key, f"{what} number ({number_key})")
        status = _text(raw, "Status") or ""
        lifecycle = DOCUMENT_LIFECYCLE.get(status)
        if lifecycle is None:
            raise CellError(
                status, f"a Status: {', '.join(DOCUMENT_LIFECYCLE)}", "Status"
            )
        total = _required_amount(raw, "Total", "a Total")
        subtotal, tax = _amount(raw, "SubTotal"), _amount(raw, "TotalTax")
        balance = _amount(raw, "AmountDue" if kind == "invoice" else "RemainingCredit")
        if kind == "invoice":
            if total < 0:
                raise CellError(
                    _raw(raw.get("Total")),
                    "an invoice Total of zero or more (credits are CreditNotes)",
                    "Total",
                )
            paid, credited = _amount(raw, "AmountPaid"), _amount(raw, "AmountCredited")
        else:
            # Xero writes credit notes positive; a signed copy keeps its magnitude.
            total, subtotal, tax = abs(total), _abs(subtotal), _abs(tax)
            balance, paid, credited = _abs(balance), None, None
        return DocumentRecord(
            kind=kind,  # type: ignore[arg-type]
            external_id=external_id,
            number=number,
            account=self._account(raw.get("Contact"), "Contact"),
            issue_date=_document_date(raw, "Date"),
            due_date=_document_date(raw, "DueDate") if kind == "invoice" else None,
            total=total,
            currency=_currency(raw),
            subtotal=subtotal,
            tax=tax,
            lifecycle=lifecycle,  # type: ignore[arg-type]
            amount_paid=paid,
            amount_credited=credited,
            balance=balance,
            paid_flag=True if kind == "invoice" and status == "PAID" else None,
            reference=_text(raw, "Reference"),
            updated_at=_timestamp(raw, "UpdatedDateUTC"),
            lines=_lines(raw),
            # List calls without page= leave LineItems out: keep the stored lines.
            lines_known="LineItems" in raw,
        )

    def _allocations(
        self, raw: dict[str, Any], credit_note_id: str
    ) -> list[AllocationRecord]:
        found = raw.get("Allocations")
        if found is None:
            return []
        if not isinstance(found, list):
            raise CellError(_raw(found), "a list of Allocations", "Allocations")
        result = []
        for i, value in enumerate(found):
            path = f"Allocations[{i}]"
            allocation = _object(value, path, "an allocation object")
            if allocation.get("IsDeleted") is True:
                self.skipped["deleted_allocation"].add(None)
                continue
            invoice = _object(
                allocation.get("Invoice"),
                path + ".Invoice",
                "the Invoice the credit was allocated to",
            )
            amount = _required_amount(
                allocation, "Amount", "the amount allocated", path + "."
            )
            result.append(
                AllocationRecord(
                    kind="credit",
                    invoice_ref=_required_text(
                        invoice, "InvoiceID", "an InvoiceID", path + ".Invoice."
                    ),
                    amount=abs(amount),
                    date=_calendar_date(allocation, "Date", path + "."),
                    credit_note_ref=credit_note_id,
                )
            )
        return result

    # -- payments -------------------------------------------------------------------

    def _payment(self, index: int, value: Any, *, final: bool) -> Iterator[Item]:
        where = f"Payments[{index}]"
        label = _label("payment", value, "Reference", where)
        try:
            raw = _object(value, where, "a payment object")
            invoice = raw.get("Invoice")
            if invoice is not None:
                invoice = _object(invoice, "Invoice", "the Invoice the payment settles")
            kind = _text(raw, "PaymentType")
            if kind is None and invoice is not None:
                # Every payment on a sales invoice is an ACCRECPAYMENT.
                invoice_type = _text(invoice, "Type", "Invoice.")
                kind = {"ACCREC": "ACCRECPAYMENT", "ACCPAY": "ACCPAYPAYMENT"}.get(
                    invoice_type or ""
                )
            if kind in REFUND_TYPES:
                self.skipped["refund"].add(_text(raw, "Reference"))
                return
            if kind in SUPPLIER_PAYMENT_TYPES:
                self.skipped["supplier_payment"].add(_text(raw, "Reference"))
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
            invoice_id = _required_text(
                invoice, "InvoiceID", "the InvoiceID the payment settles", "Invoice."
            )
            account, currency = self._payment_account(invoice, invoice_id)
            unknown = account is None or currency is None
            if unknown and not final and invoice_id not in self.invoices:
                self.waiting.append((index, raw))  # its invoice may come later
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
        self, invoice: dict[str, Any], invoice_id: str
    ) -> tuple[AccountRecord | None, str | None]:
        """Return the payment's account and currency: its own, else its invoice's."""
        known = self.invoices.get(invoice_id)
        contact = invoice.get("Contact")
        account = None
        if contact is not None and real_id(
            _text(
                _object(contact, "Invoice.Contact", "a Contact object"),
                "ContactID",
                "Invoice.Contact.",
            )
        ):
            account = self._account(contact, "Invoice.Contact")
        elif known is not None:
            account = self.contacts.get(known[0]) or AccountRecord(known[0], known[0])
        currency = _currency(invoice, "Invoice.")
        if currency is None and known is not None:
            currency = known[1]
        return account, currency

    def _payment_record(
        self,
        raw: dict[str, Any],
        invoice_id: str,
        account: AccountRecord,
        currency: str | None,
    ) -> PaymentRecord:
        payment_id = _required_text(raw, "PaymentID", "a PaymentID")
        status = _text(raw, "Status") or ""
        lifecycle = PAYMENT_LIFECYCLE.get(status)
        if lifecycle is None:
            raise CellError(status, "a Status: AUTHORISED or DELETED", "Status")
        amount = _required_amount(raw, "Amount", "the amount received")
        if amount < 0:
            raise CellError(
                _raw(raw.get("Amount")), "an Amount of zero or more", "Amount"
            )
        received = _calendar_date(raw, "Date")
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
            reference=_text(raw, "Reference"),
            unapplied=Decimal(0),  # a Xero payment settles exactly one document
            lifecycle=lifecycle,  # type: ignore[arg-type]
            updated_at=_timestamp(raw, "UpdatedDateUTC"),
            allocations=allocations,
        )


def _lines(raw: dict[str, Any]) -> list[LineRecord]:
    found = raw.get("LineItems")
    if found is None:
        return []
    if not isinstance(found, list):
        raise CellError(_raw(found), "a list of LineItems", "LineItems")
    lines = []
    for i, value in enumerate(found):
        path = f"LineItems[{i}]."
        line = _object(value, path[:-1], "a line item object")
        lines.append(
            LineRecord(
                position=i + 1,
                description=_text(line, "Description", path) or "",
                item=_text(line, "ItemCode", path),
                quantity=_amount(line, "Quantity", path),
                unit_price=_amount(line, "UnitAmount", path),
                amount=_amount(line, "LineAmount", path),
                tax=_amount(line, "TaxAmount", path),
            )
        )
    return lines


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
