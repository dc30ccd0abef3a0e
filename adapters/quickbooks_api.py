"""QuickBooks Online API JSON: query, batch and single-read responses (FORMATS.md section 5).

Reads ``{"QueryResponse": {"Invoice": [...]}, "time": ...}``, the batch envelope
``{"BatchItemResponse": [{"QueryResponse": {...}, "bId": ...}], "time": ...}``, single
reads ``{"Invoice": {...}, "time": ...}`` and plain lists of entities, streamed item by
item. Customers become accounts keyed on their QuickBooks Id (``CustomerRef.value``), so
an invoice names the same account whether or not its Customer is in the file. Invoices
and credit memos keep QuickBooks' own totals and balances; Payment lines say which
invoices and credit memos a payment settled (cash and credit allocations). Sales and
refund receipts: ``adapters.quickbooks_receipts``; change data capture answers
(``CDCResponse``, with deleted stubs): ``adapters.quickbooks_cdc``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from adapters import quickbooks_cdc as cdc
from adapters import quickbooks_copy as copy
from adapters.base import ExportFile, Head, ParseOptions
from adapters.errors import CellError, FileRejected
from adapters.quickbooks_names import classify_entity, quickbooks_account
from adapters.quickbooks_receipts import RECEIPTS, receipt_records
from adapters.toolkit.cells import parse_timestamp
from adapters.toolkit.columns import nfc_key
from adapters.toolkit.json_fields import Fields, JsonRules, refused_email
from adapters.toolkit.json_stream import head_keys, iter_items
from adapters.toolkit.keys import real_id
from schemas.records import (
    AccountRecord,
    AllocationRecord,
    DocumentRecord,
    ExportInfo,
    Item,
    Note,
    PaymentRecord,
    Record,
    Rejection,
)

ENTITIES = ("Customer", "Invoice", "CreditMemo", "Payment", *RECEIPTS)
# Entities read for what they tell about the others: names of payment methods and
# terms (a reference often carries only the Id), and files attached to transactions.
LOOKUPS = ("PaymentMethod", "Term", "Attachable")
# Records held back for a PaymentMethod or Term later in the file: a file with none
# (most invoice exports) holds back at most this many, then names by Id go unresolved.
DEFERRED_MAX = 2_000
# QuickBooks entities a query or batch may carry that billfold does not import; they
# are counted and reported, not parsed.
OTHER_ENTITIES = (
    "Estimate", "JournalEntry", "Deposit", "Item", "Vendor", "Bill", "Account",
    "Employee", "Purchase", "TimeActivity",
)  # fmt: skip
_QUERY_FIELDS = frozenset(("startPosition", "maxResults", "totalCount"))
_BATCH_FIELDS = frozenset(("bId", "QueryResponse", "Fault", *ENTITIES, *LOOKUPS))


def _prefixes() -> dict[str, str]:
    """Map every ijson prefix this adapter reads to the entity found there."""
    found = {}
    for entity in (*ENTITIES, *LOOKUPS, *OTHER_ENTITIES):
        found[f"QueryResponse.{entity}.item"] = entity
        found[f"BatchItemResponse.item.QueryResponse.{entity}.item"] = entity
    for entity in (*ENTITIES, *LOOKUPS):
        found[f"BatchItemResponse.item.{entity}"] = entity
        found[entity] = entity  # single read
    found.update(cdc.cdc_prefixes((*ENTITIES, *LOOKUPS, *OTHER_ENTITIES)))
    found["item"] = "?"  # a plain list: the entity is told by its fields
    found["time"] = "time"
    found[cdc.KEY_PREFIX] = "group"  # a key of a CDC answer's group: which entity
    found["Fault"] = "Fault"
    found["BatchItemResponse.item.Fault"] = "Fault"
    return found


PREFIXES = _prefixes()

# Money has at most 6 decimal places below 10^16 (sums of a payment's lines stay exact
# in Decimal arithmetic); ids may be JSON numbers; dates are written 2025-03-31.
RULES = JsonRules(
    amount="an amount such as 338.81",
    date="a date written 2025-03-31",
    places=6,
    numbers_as_text=True,
)
_VOID_NOTE = re.compile(r"^\s*void(?:ed)?\b", re.IGNORECASE)


class QuickBooksApi:
    """Reads QuickBooks Online API responses saved as JSON."""

    name = "quickbooks_api"
    label = "QuickBooks Online API JSON"

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Claim a JSON document shaped like a QuickBooks Online API response."""
        if head.text is None:
            return False
        text = head.text.lstrip("\ufeff \t\r\n")
        if not text.startswith(("{", "[")):
            return False
        keys = head_keys(text)
        top = keys.get("", set())
        if text.startswith("["):
            first = keys.get("item", set())
            return "SyncToken" in first and bool({"CustomerRef", "DisplayName"} & first)
        if "QueryResponse" in top:
            inside = keys.get("QueryResponse", set())
            known = _QUERY_FIELDS | {*ENTITIES, *LOOKUPS, *OTHER_ENTITIES}
            return bool(inside & known) or (not inside and "time" in top)
        if "BatchItemResponse" in top:
            return bool(keys.get("BatchItemResponse.item", set()) & _BATCH_FIELDS)
        if "Fault" in top or "CDCResponse" in top:
            return "Error" in keys.get("Fault", set()) or cdc.claims(keys)
        return any("SyncToken" in keys.get(e, set()) for e in ENTITIES if e in top)

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the accounts, documents and payments of a QuickBooks API export."""
        reader = _Reader()
        yield from reader.read(iter_items(export, PREFIXES, (cdc.ENVELOPE,)))


def _version(f: Fields) -> int | None:
    """The SyncToken: which version of the entity this is (the higher wins)."""
    text = f.text("SyncToken")
    if text is None:
        return None
    if not text.isascii() or not text.isdigit():
        raise CellError(text, "a SyncToken such as 0 or 3", "SyncToken")
    return int(text)


def _ordinal(n: int) -> str:
    suffix = (
        "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    )
    return f"{n}{suffix}"


def _money_text(value: Decimal) -> str:
    return f"{value:.2f}"


# -- records -----------------------------------------------------------------------


class _Reader:
    """Turn one file's stream of QuickBooks entities into canonical records."""

    def __init__(self) -> None:
        self.accounts: dict[str, AccountRecord] = {}  # Customer.Id -> account
        self.ids_by_name: dict[str, str] = {}  # FullyQualifiedName -> Customer.Id
        self.counts: dict[str, int] = {}
        self.skipped: dict[str, int] = {}
        self.orphans: dict[str, str] = {}  # sub-customer id -> name, parent id unknown
        self.yielded_record = False
        self.lookups = copy.Lookups()
        self.deferred: list[tuple[str, Any, int]] = []  # records waiting for a name
        self.final = False
        self.refused: list[Rejection] = []  # bad cells of the record being read
        self.changes = cdc.ChangeReport((*ENTITIES, *LOOKUPS, *OTHER_ENTITIES))

    def read(self, stream: Iterable[tuple[str, int, Any]]) -> Iterator[Item]:
        for prefix, _, value in stream:
            entity = PREFIXES[prefix]
            if prefix == cdc.KEY_PREFIX:
                self.changes.saw_group_key(value)
            elif entity == "time":
                yield from self._time(value)
            elif entity == "Fault":
                yield from self._fault(value, top_level=prefix == "Fault")
            elif entity in OTHER_ENTITIES:
                self.skipped[entity] = self.skipped.get(entity, 0) + 1
            elif isinstance(value, list):  # {"Invoice": [...]} instead of one object
                for element in value:
                    yield from self._entity(entity, element)
            else:
                yield from self._entity(entity, value)
        self.final = True  # every PaymentMethod and Term in the file has been read
        for entity, value, n in self.deferred:
            yield from self._entity(entity, value, n)
        yield from self._summary()

    def _time(self, value: Any) -> Iterator[Item]:
        if self.yielded_record:
            return  # the as-of time must precede the records it dates
        try:
            moment = parse_timestamp(value) if isinstance(value, str) else None
        except CellError:
            moment = None
        if moment is None:
            yield Note(
                f"ignored the response's time {RULES.show(value)!r}: not a timestamp"
            )
            return
        yield ExportInfo(as_of=moment, description="QuickBooks Online API response")

    def _fault(self, value: Any, *, top_level: bool) -> Iterator[Item]:
        messages = []
        errors = value.get("Error") if isinstance(value, dict) else None
        for error in errors if isinstance(errors, list) else []:
            if isinstance(error, dict):
                parts = [error.get(k) for k in ("Message", "Detail", "code")]
                messages.append(" - ".join(str(p) for p in parts if p))
        detail = "; ".join(messages) or RULES.show(value)
        if top_level:
            raise FileRejected(
                f"the file is a QuickBooks error response ({detail}); expected the "
                "response of a successful query"
            )
        yield Note(
            f"one query of this batch failed in QuickBooks ({detail}); the entities it "
            "would have returned are not in this file"
        )

    def _entity(self, entity: str, value: Any, n: int = 0) -> Iterator[Item]:
        if entity == "?":
            entity = classify_entity(value)
        if not n:
            n = self.counts[entity] = self.counts.get(entity, 0) + 1
        where = (
            f"the {_ordinal(n)} {'element' if entity == '?' else entity} in the file"
        )
        if not isinstance(value, dict) or entity == "?":
            yield Rejection(
                reason="expected a QuickBooks Customer, Invoice, CreditMemo, Payment, "
                f"PaymentMethod, Term or Attachable object ({where})",
                record=where,
                value=RULES.show(value),
            )
            return
        if cdc.is_deleted(value):
            yield from self.changes.deletion(entity, value)
            return
        fields = Fields(value, RULES)
        note: Note | None = None
        held = not self.final and len(self.deferred) < DEFERRED_MAX
        if held and self.lookups.waits(entity, fields):
            self.deferred.append((entity, value, n))
            return
        try:
            if entity in LOOKUPS:
                yield from self.lookups.read(entity, fields)
                return
            if entity == "Customer":
                records: list[Record] = [self._customer(fields)]
            elif entity == "Payment":
                payment, note = self._payment(fields)
                records = [payment]
            elif entity in RECEIPTS:
                document = self._document(entity, fields)
                method = fields.text("PaymentMethodRef.name")
                records = receipt_records(entity, document, method)
            else:
                records = [self._document(entity, fields)]
        except CellError as exc:
            self.refused.clear()
            ident = value.get("Id")
            ident_text = f", Id {ident}" if isinstance(ident, str | int) else ""
            yield Rejection(
                reason=f"expected {exc.expected} ({where}{ident_text})",
                record=_label(entity, value),
                column=exc.column,
                value=exc.value,
            )
            return
        if note is not None:
            yield note
        self.yielded_record = True
        yield from records
        yield from self.refused
        self.refused.clear()

    def _summary(self) -> Iterator[Item]:
        for entity, n in sorted(self.skipped.items()):
            yield Note(
                f"skipped {n} {entity} entit{'y' if n == 1 else 'ies'}: billfold imports "
                "Customer, Invoice, CreditMemo, Payment, SalesReceipt and RefundReceipt"
            )
        yield from self.lookups.notes()
        yield from self.changes.notes()
        if self.orphans:
            example = next(iter(self.orphans.values()))
            yield Note(
                f"{len(self.orphans)} sub-customer(s) (e.g. {example!r}) are named only "
                "by their transactions, which do not give the parent's QuickBooks Id; "
                "they are linked to their parent when a Customer query that includes "
                "them is imported"
            )
        if not self.counts and not self.skipped:
            yield Note("the response holds no QuickBooks entities")

    # -- customers ------------------------------------------------------------------

    def _customer(self, f: Fields) -> AccountRecord:
        ident = real_id(f.text("Id"))  # "0" or "null" is no Id
        if not ident:
            raise CellError(f.text("Id") or "", "the customer's Id", "Id")
        full_name = f.text("FullyQualifiedName") or f.text("DisplayName") or ident
        named = quickbooks_account(full_name)
        parent_key = real_id(f.text("ParentRef.value")) or None
        parent_name = named.parent_name
        if parent_key is None and named.parent_key:
            parent_key = self.ids_by_name.get(named.parent_key)
        if parent_key is not None and parent_name is None:
            known = self.accounts.get(parent_key)
            parent_name = known.name if known else None
        display = f.text("DisplayName")
        account = AccountRecord(
            key=ident,
            name=nfc_key(display) if display and ":" not in display else named.name,
            email=self._email(f, "PrimaryEmailAddr.Address", "Customer"),
            parent_key=parent_key,
            parent_name=parent_name if parent_key else None,
        )
        self.accounts[ident] = account
        self.ids_by_name[named.key] = ident
        self.orphans.pop(ident, None)
        return account

    def _email(self, f: Fields, path: str, entity: str) -> str | None:
        """An email address; a bad one is refused on its own (the record is kept)."""
        try:
            return f.email(path)
        except CellError as exc:
            self.refused.append(refused_email(exc, _label(entity, f.data)))
            return None

    def _account(self, f: Fields, email: str | None = None) -> AccountRecord:
        """Return the account a transaction's CustomerRef names, keyed on its Id, with
        the *email* the transaction was billed to unless its Customer gives one."""
        ident = real_id(f.text("CustomerRef.value"))  # "0" or "null" is no Id
        if not ident:
            raise CellError(
                f.show("CustomerRef"),
                "a CustomerRef with the customer's Id (not a placeholder)",
                "CustomerRef.value",
            )
        known = self.accounts.get(ident)
        if known is not None:  # the Customer's own address comes first
            if email is None or known.email:
                return known
            return AccountRecord(
                known.key, known.name, email, known.parent_key, known.parent_name
            )
        name = f.text("CustomerRef.name")
        if name is None:
            return AccountRecord(key=ident, name=ident, email=email)
        named = quickbooks_account(name)
        parent_key = (
            self.ids_by_name.get(named.parent_key) if named.parent_key else None
        )
        if named.parent_key and parent_key is None:
            self.orphans.setdefault(ident, named.key)
        return AccountRecord(
            key=ident,
            name=named.name,
            email=email,
            parent_key=parent_key,
            parent_name=named.parent_name if parent_key else None,
        )

    # -- invoices and credit memos --------------------------------------------------

    def _document(self, entity: str, f: Fields) -> DocumentRecord:
        ident = f.text("Id")
        if ident is None:
            raise CellError("", "the transaction's Id", "Id")
        kind = "invoice" if entity in ("Invoice", "SalesReceipt") else "credit_note"
        total = f.amount("TotalAmt")
        if total is None:
            raise CellError("", "a TotalAmt", "TotalAmt")
        if total < 0:
            raise CellError(
                f.show("TotalAmt"), "a TotalAmt of zero or more", "TotalAmt"
            )
        private_note = f.text("PrivateNote")
        void = (
            total == 0
            and private_note is not None
            and bool(_VOID_NOTE.match(private_note))
        )
        if kind == "invoice":
            balance = f.amount("Balance")
            balance_column = "Balance"
        else:
            balance = f.amount("RemainingCredit")
            balance_column = "RemainingCredit"
        if balance is not None and not 0 <= balance <= total:
            raise CellError(
                f.show(balance_column),
                f"a {balance_column} between 0 and the TotalAmt {total}",
                balance_column,
            )
        customer_memo = f.text("CustomerMemo.value")
        memo = private_note if private_note and not void else customer_memo
        return DocumentRecord(
            kind=kind,  # type: ignore[arg-type]  # one of DocumentKind's values, mapped above
            external_id=ident,
            number=f.text("DocNumber") or ident,
            account=self._account(f, self._email(f, "BillEmail.Address", entity)),
            issue_date=f.date("TxnDate"),
            due_date=f.date("DueDate") if kind == "invoice" else None,
            currency=(f.text("CurrencyRef.value") or "").upper() or None,
            tax=f.amount("TxnTaxDetail.TotalTax"),
            total=total,
            lifecycle="void" if void else "issued",
            balance=balance,
            reference=copy.reference(f),
            memo=memo,
            pay_url=f.text("InvoiceLink") if kind == "invoice" else None,
            updated_at=f.timestamp("MetaData.LastUpdatedTime"),
            version=_version(f),
            lines=copy.lines(f),
            terms=self.lookups.named(f, "SalesTermRef", "Term")
            if kind == "invoice"
            else None,
            tax_mode=copy.tax_mode(f),
            exchange_rate=copy.exchange_rate(f),
        )

    # -- payments -------------------------------------------------------------------

    def _payment(self, f: Fields) -> tuple[PaymentRecord, Note | None]:
        ident = f.text("Id")
        if ident is None:
            raise CellError("", "the payment's Id", "Id")
        amount = f.amount("TotalAmt")
        if amount is None:
            raise CellError(
                "", "a TotalAmt (0 for a payment that only applies credit)", "TotalAmt"
            )
        if amount < 0:
            raise CellError(
                f.show("TotalAmt"), "a TotalAmt of zero or more", "TotalAmt"
            )
        received = f.date("TxnDate")
        private_note = f.text("PrivateNote")
        void = (
            amount == 0
            and private_note is not None
            and bool(_VOID_NOTE.match(private_note))
        )
        payment = PaymentRecord(
            external_id=ident,
            account=self._account(f),
            date=received,
            amount=amount,
            currency=(f.text("CurrencyRef.value") or "").upper() or None,
            method=self.lookups.named(f, "PaymentMethodRef", "PaymentMethod"),
            reference=f.text("PaymentRefNum"),
            unapplied=f.amount("UnappliedAmt"),
            lifecycle="void" if void else "active",
            updated_at=f.timestamp("MetaData.LastUpdatedTime"),
            version=_version(f),
        )
        links = _payment_links(f)
        if void:  # a voided payment settles nothing, whatever lines it kept
            return payment, None
        payment.allocations, note = _allocate(payment, links)
        return payment, note


def _label(entity: str, value: dict[str, Any]) -> str:
    """Name a record for a Rejection from whatever identifying text it has."""

    def text(*path: str) -> str | None:
        v: Any = value
        for part in path:
            v = v.get(part) if isinstance(v, dict) else None
        return v if isinstance(v, str) and v.strip() else None

    ident = text("Id") or (
        str(value["Id"]) if isinstance(value.get("Id"), int) else None
    )
    if entity == "Customer":
        return f"customer {text('DisplayName') or ident or '(no Id)'}"
    if entity in LOOKUPS:
        return f"{entity} {text('FileName') or text('Name') or ident or '(no Id)'}"
    if entity == "Payment":
        return f"payment {text('PaymentRefNum') or ident or '(no Id)'}"
    kind = {"Invoice": "invoice", "SalesReceipt": "sales receipt"}.get(entity)
    kind = kind or ("refund receipt" if entity == "RefundReceipt" else "credit note")
    return f"{kind} {text('DocNumber') or ident or '(no Id)'}"


def _payment_links(f: Fields) -> list[tuple[str, str, Decimal]]:
    """Return ``(TxnType, TxnId, amount)`` for each Payment line, in file order."""
    links = []
    for lf in f.objects("Line"):
        amount = lf.amount("Amount")
        if amount is None or amount < 0:
            raise CellError(
                lf.show("Amount"),
                "a line Amount of zero or more",
                lf.column("Amount"),
            )
        linked = lf.objects("LinkedTxn")
        if len(linked) != 1:
            links.append(("", f"{len(linked)} transactions at once", amount))
            continue
        link = linked[0]
        txn_id = link.text("TxnId")
        if txn_id is None:
            raise CellError("", "the linked transaction's TxnId", link.column("TxnId"))
        txn_type = link.text("TxnType")
        if txn_type is None:
            links.append(("", f"transaction {txn_id} without a TxnType", amount))
        else:
            links.append((txn_type, txn_id, amount))
    return links


def _allocate(
    payment: PaymentRecord, links: list[tuple[str, str, Decimal]]
) -> tuple[list[AllocationRecord], Note | None]:
    """Split a payment's lines into cash and credit allocations.

    An invoice line's amount is what the invoice received from this payment: cash plus
    any credit memo applied alongside. Credit memo lines are drawn down against the
    invoice lines in order; what an invoice line has left is cash. With one invoice this
    is exact; with several, QuickBooks does not say which invoice a credit went to, so
    the admin is told.
    """
    label = payment.label
    unknown = [(t, i) for t, i, _ in links if t not in ("Invoice", "CreditMemo")]
    if unknown:
        kinds = ", ".join(sorted({t or i for t, i in unknown}))
        return [], Note(
            f"{label}: a line links {kinds}; billfold cannot tell how that settled the "
            "invoices, so the payment is imported without allocations"
        )
    invoices = [(i, a) for t, i, a in links if t == "Invoice"]
    credits = [(i, a) for t, i, a in links if t == "CreditMemo"]
    invoiced = sum((a for _, a in invoices), Decimal(0))
    credited = sum((a for _, a in credits), Decimal(0))
    assert payment.amount is not None
    applied_cash = invoiced - credited
    cash_known = payment.amount - (payment.unapplied or Decimal(0))
    if applied_cash < 0 or (
        applied_cash != cash_known
        if payment.unapplied is not None
        else applied_cash > payment.amount
    ):
        return [], Note(
            f"{label}: its invoice lines ({_money_text(invoiced)}) minus credit memo "
            f"lines ({_money_text(credited)}) do not match its amount "
            f"{_money_text(payment.amount)} less unapplied "
            f"{_money_text(payment.unapplied or Decimal(0))}; imported without allocations"
        )
    allocations = []
    pool = [(ref, amount) for ref, amount in credits if amount > 0]
    for invoice_ref, line_amount in invoices:
        left = line_amount
        while left > 0 and pool:
            credit_ref, available = pool.pop(0)
            used = min(left, available)
            allocations.append(
                AllocationRecord(
                    kind="credit",
                    invoice_ref=invoice_ref,
                    amount=used,
                    date=payment.date,
                    credit_note_ref=credit_ref,
                )
            )
            left -= used
            if available > used:
                pool.insert(0, (credit_ref, available - used))
        if left > 0:
            allocations.append(
                AllocationRecord(
                    kind="cash", invoice_ref=invoice_ref, amount=left, date=payment.date
                )
            )
    note = None
    if credits and len({ref for ref, _ in invoices}) > 1:
        note = Note(
            f"{label}: QuickBooks does not say which of its {len(invoices)} invoices the "
            f"credit memo(s) with Id {', '.join(ref for ref, _ in credits)} paid; billfold "
            "applied the credit to the invoice lines in order and the rest as cash"
        )
    return allocations, note
