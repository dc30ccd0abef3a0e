"""One IIF transaction (a TRNS row and its SPL rows) to documents and payments.

The A/R ``TRNS`` amount is the document total (income lines are written negative on
invoices and come out positive); the split with ``EXTRA`` = ``AUTOSTAX``, or on a
sales-tax payable account, is the tax; an amount of 0 with a memo starting ``VOID:`` is
a void; a cash sale is an invoice paid by an equal payment.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from adapters.base import ParseOptions
from adapters.errors import CellError
from adapters.quickbooks_iif.rows import Columns, Row, Transaction, preview
from adapters.quickbooks_names import quickbooks_account
from adapters.toolkit.cells import FileDates, parse_amount
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    Item,
    LineRecord,
    Note,
    PaymentRecord,
)

# Customer A/R documents this adapter reads; every other TRNSTYPE Intuit defines is noted
# and skipped (bills, cheques, deposits, journal entries are not customer documents).
READ_TYPES = ("INVOICE", "CREDIT MEMO", "PAYMENT", "CASH SALE")
VOID_PREFIX = "VOID:"
# QuickBooks marks its computed sales-tax line with EXTRA = AUTOSTAX; files written by
# hand or by other tools post tax to a liability account instead.
AUTOSTAX = "AUTOSTAX"
_TAX_ACCOUNT = re.compile(
    r"sales\s*tax|\b(?:tax|gst|hst|pst|qst|vat)\b.*\bpayable\b", re.IGNORECASE
)


def _negate(value: Decimal | None, invert: bool) -> Decimal | None:
    """Return *value* with its sign turned when *invert* (negation keeps 0 as 0, not -0)."""
    if value is None or not invert:
        return value
    return -value


def _article(word: str) -> str:
    return "an" if word[:1] in "AEIOU" else "a"


def _is_tax_split(extra: str, account: str) -> bool:
    return extra.strip().upper() == AUTOSTAX or bool(_TAX_ACCOUNT.search(account))


class Transactions:
    """Turn the transactions of one file into records (its date order decided)."""

    def __init__(self, dates: FileDates, options: ParseOptions) -> None:
        self.dates = dates
        self.options = options
        self.payment_keys: dict[str, int] = {}

    def records(self, txn: Transaction) -> list[Item]:
        """The records one complete transaction gives; a CellError rejects it whole."""
        kind = txn.kind
        if kind not in READ_TYPES:
            raise CellError(
                txn.columns.cell(txn.trns, "TRNSTYPE"),
                "a TRNSTYPE Intuit defines (INVOICE, CREDIT MEMO, PAYMENT, CASH SALE, "
                "or a non-customer type such as BILL or CHECK)",
                "TRNSTYPE",
            )
        self._check_shape(txn)
        total = self._required(txn.trns, txn.columns, txn.trns)
        splits = [
            (row, columns, self._required(row, columns, txn.trns))
            for row, columns in txn.splits
        ]
        assert total is not None
        imbalance = total + sum((a for _, _, a in splits), Decimal(0))
        if imbalance != 0:
            raise CellError(
                txn.columns.cell(txn.trns, "AMOUNT"),
                "SPL amounts that balance the TRNS AMOUNT (TRNS + SPL must be 0, "
                f"these add up to {imbalance})",
                "AMOUNT",
            )
        if kind == "PAYMENT":
            return [self._payment(txn, total)]
        if kind == "CASH SALE" and not txn.columns.cell(txn.trns, "NAME").strip():
            number = txn.columns.cell(txn.trns, "DOCNUM").strip()
            return [
                Note(
                    f"skipped cash sale {number or 'without a number'}: it names no "
                    "customer (a walk-in sale), so no account can see it",
                    txn.trns.line,
                )
            ]
        document = self._document(txn, kind, total, splits)
        if kind != "CASH SALE":
            return [document]
        return [document, self._cash_sale_payment(txn, document)]

    def _check_shape(self, txn: Transaction) -> None:
        for row, columns in (txn.trns, txn.columns), *txn.splits:
            if row.malformed:
                raise CellError(
                    preview(row),
                    f"comma-separated cells with balanced quotes on line {row.line}",
                )
            needed = columns.index["AMOUNT"] + 1
            if len(row.cells) < needed:
                raise CellError(
                    preview(row),
                    f"at least {needed} fields (up to AMOUNT) as in the !{row.keyword} "
                    f"row (line {columns.line}), found {len(row.cells)} on line "
                    f"{row.line}",
                    "AMOUNT",
                )
            extra = row.cells[columns.width :]
            if any(c.strip() for c in extra):
                raise CellError(
                    preview(row),
                    f"{columns.width} fields as in the !{row.keyword} row (line "
                    f"{columns.line}), found {len(row.cells)} on line {row.line} "
                    "(a stray separator?)",
                )

    # -- cells --------------------------------------------------------------------------

    @staticmethod
    def _where(row: Row, trns: Row) -> str:
        return "" if row is trns else f" (SPL row on line {row.line})"

    def _required(self, row: Row, columns: Columns, trns: Row) -> Decimal:
        """The row's AMOUNT, which every TRNS and SPL line carries."""
        value = self._amount(row, columns, "AMOUNT", trns)
        assert value is not None  # _amount rejects a line without an AMOUNT
        return value

    def _amount(
        self, row: Row, columns: Columns, name: str, trns: Row
    ) -> Decimal | None:
        text = columns.cell(row, name)
        try:
            value = parse_amount(text)
        except CellError as exc:
            raise CellError(text, exc.expected + self._where(row, trns), name) from None
        if value is None and name == "AMOUNT":
            raise CellError(text, "an AMOUNT" + self._where(row, trns), name)
        return value

    def _date(self, txn: Transaction, name: str, required: str | None) -> date | None:
        text = txn.columns.cell(txn.trns, name)
        value = self.dates.parse(text.strip(), name, txn.trns.line)
        if value is None and required:
            raise CellError(text, required, name)
        return value

    def _account(self, txn: Transaction) -> AccountRecord:
        name = txn.columns.cell(txn.trns, "NAME")
        if not name.strip():
            raise CellError(name, "the customer's NAME on the TRNS row", "NAME")
        return quickbooks_account(name)

    def _number(self, txn: Transaction) -> str:
        number = txn.columns.cell(txn.trns, "DOCNUM").strip()
        if not number:
            raise CellError("", "a DOCNUM (the document number)", "DOCNUM")
        return number

    def _paid_flag(self, txn: Transaction) -> bool | None:
        """PAID = Y means paid in full; N means not fully paid, which may be partly: unknown."""
        text = txn.columns.cell(txn.trns, "PAID")
        flag = text.strip().upper()
        if flag in ("Y", "YES"):
            return True
        if flag in ("", "N", "NO"):
            return None
        raise CellError(text, "PAID Y or N", "PAID")

    def _text(self, txn: Transaction, name: str) -> str | None:
        return txn.columns.cell(txn.trns, name).strip() or None

    # -- records ------------------------------------------------------------------------

    def _document(
        self,
        txn: Transaction,
        kind: str,
        total: Decimal,
        splits: list[tuple[Row, Columns, Decimal]],
    ) -> DocumentRecord:
        """An INVOICE or CASH SALE (A/R or bank side positive) or a CREDIT MEMO (negative)."""
        credit = kind == "CREDIT MEMO"
        memo = self._text(txn, "MEMO")
        void = total == 0 and (memo or "").upper().startswith(VOID_PREFIX)
        amount_text = txn.columns.cell(txn.trns, "AMOUNT")
        if credit and total > 0:
            raise CellError(
                amount_text,
                "a negative AMOUNT on the TRNS row of a CREDIT MEMO (the A/R side); a "
                "positive one would be a charge",
                "AMOUNT",
            )
        if not credit and total < 0:
            raise CellError(
                amount_text,
                f"a positive AMOUNT on the TRNS row of {_article(kind)} {kind} (a "
                "credit belongs in a CREDIT MEMO)",
                "AMOUNT",
            )
        number = self._number(txn)
        issue_date = self._date(txn, "DATE", "the document DATE")
        due_date = self._date(txn, "DUEDATE", None)
        account = self._account(txn)
        # Income lines carry the opposite sign of the A/R side: negative on invoices.
        invert = not credit
        lines: list[LineRecord] = []
        tax: Decimal | None = None
        for row, columns, amount in splits:
            if _is_tax_split(columns.cell(row, "EXTRA"), columns.cell(row, "ACCNT")):
                tax = (tax or Decimal(0)) + amount
                continue
            lines.append(self._line(txn, row, columns, amount, invert, len(lines) + 1))
        tax = _negate(tax, invert)
        total = abs(total)
        paid_flag = self._paid_flag(txn) if kind == "INVOICE" else None
        cash_sale = kind == "CASH SALE"
        return DocumentRecord(
            kind="credit_note" if credit else "invoice",
            external_id=f"cash sale {number}" if cash_sale else number,
            number=number,
            account=account,
            issue_date=issue_date,
            due_date=due_date,
            currency=self.options.default_currency,
            subtotal=None if tax is None else total - tax,
            tax=tax,
            total=total,
            lifecycle="void" if void else "issued",
            # A cash sale is paid in full when it is rung up.
            amount_paid=total if cash_sale and not void else None,
            amount_credited=Decimal(0) if cash_sale and not void else None,
            balance=Decimal(0) if cash_sale and not void else None,
            paid_flag=True if cash_sale and not void else (None if void else paid_flag),
            reference=self._text(txn, "PONUM"),
            memo=memo,
            lines=lines,
            document_type="sales_receipt" if cash_sale else None,
            line=txn.trns.line,
        )

    def _line(
        self,
        txn: Transaction,
        row: Row,
        columns: Columns,
        amount: Decimal,
        invert: bool,
        position: int,
    ) -> LineRecord:
        quantity = self._amount(row, columns, "QNTY", txn.trns)
        price_text = columns.cell(row, "PRICE").strip()
        # A percentage PRICE (a discount or tax rate item) is a rate, not a unit price.
        price = (
            None
            if price_text.endswith("%")
            else self._amount(row, columns, "PRICE", txn.trns)
        )
        return LineRecord(
            position=position,
            description=columns.cell(row, "MEMO").strip(),
            item=columns.cell(row, "INVITEM").strip() or None,
            quantity=_negate(quantity, invert),
            unit_price=price,
            amount=_negate(amount, invert),
        )

    def _payment(self, txn: Transaction, amount: Decimal) -> PaymentRecord:
        """Cash received: IIF never says which invoice it paid or what is unapplied."""
        memo = self._text(txn, "MEMO")
        void = amount == 0 and (memo or "").upper().startswith(VOID_PREFIX)
        received = self._date(txn, "DATE", "the DATE the payment was received")
        assert received is not None
        account = self._account(txn)
        reference = self._text(txn, "DOCNUM")
        return PaymentRecord(
            external_id=self._payment_id(txn, account, reference or "", received),
            account=account,
            date=received,
            # Writers that put the A/R side on the TRNS row sign it negative; a PAYMENT
            # is money received either way.
            amount=abs(amount),
            currency=self.options.default_currency,
            method=self._text(txn, "PAYMETH"),
            reference=reference,
            memo=memo,
            lifecycle="void" if void else "active",
            line=txn.trns.line,
        )

    def _cash_sale_payment(
        self, txn: Transaction, sale: DocumentRecord
    ) -> PaymentRecord:
        """The cash a cash sale (sales receipt) took, all of it spent on that sale.

        The sale itself says it is paid (balance 0), so the payment carries no
        allocation: the engine reads a source that has any allocations as one whose
        allocations are complete, which would make every IIF invoice look unpaid.
        """
        assert sale.issue_date is not None and sale.total is not None
        void = sale.lifecycle == "void"
        return PaymentRecord(
            external_id=self._payment_id(
                txn, sale.account, f"cash sale {sale.number}", sale.issue_date
            ),
            account=sale.account,
            date=sale.issue_date,
            amount=sale.total,
            currency=sale.currency,
            method=self._text(txn, "PAYMETH"),
            reference=sale.number,
            memo=sale.memo,
            unapplied=None if void else Decimal(0),
            lifecycle="void" if void else "active",
            line=txn.trns.line,
        )

    def _payment_id(
        self, txn: Transaction, account: AccountRecord, reference: str, when: date
    ) -> str:
        """TRNSID when the file has one; else customer/reference/date, numbered on repeats.

        Two payments from one customer on one day with the same (or no) reference are
        still two payments: the second gets ``/2`` so it is not taken for a duplicate.
        """
        trnsid = txn.columns.cell(txn.trns, "TRNSID").strip()
        if trnsid:
            return trnsid
        base = f"{account.key}/{reference}/{when.isoformat()}"
        seen = self.payment_keys.get(base, 0) + 1
        self.payment_keys[base] = seen
        return base if seen == 1 else f"{base}/{seen}"
