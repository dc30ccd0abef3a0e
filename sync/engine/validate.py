"""Validate: re-check what an adapter yielded and turn it into store-ready rows.

Every record passes here before reconcile sees it. Amounts become integer minor units
(an amount its currency cannot hold exactly rejects the record), missing essentials
reject the record, and each record gets the content hash that makes re-imports no-ops.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, overload

from schemas.limits import LIMITS, clip, is_email_address, preview
from schemas.money import (
    MoneyError,
    format_money,
    is_currency_code,
    round_to_minor,
    to_minor,
)
from schemas.records import (
    AccountRecord,
    DocumentRecord,
    PaymentRecord,
    Rejection,
)
from sync.ledger.figures import feed_figures

LABEL_CHARACTERS = 300  # how much of a record's name a rejection repeats


@dataclass(slots=True)
class Prepared:
    """A validated record: the row to store plus its children and identity."""

    kind: str  # "invoice", "credit_note" or "payment"
    key: str  # external id in its source
    account: AccountRecord
    values: dict[str, Any]
    content_hash: str
    updated_at: datetime | None
    version: int | None
    label: str
    line: int | None
    lines: list[tuple] = field(default_factory=list)
    lines_known: bool = True
    # (kind, invoice_ref, credit_note_ref, amount_minor, currency, applied_on)
    allocations: list[tuple] = field(default_factory=list)
    former_key: str | None = None  # the id an older billfold gave it (sync.former_ids)


class _Invalid(Exception):
    def __init__(self, reason: str, column: str | None = None, value: Any = None):
        super().__init__(reason)
        self.reason = reason
        self.column = column
        self.value = None if value is None else str(value)


@overload
def _minor(value: Decimal, currency: str, column: str) -> int: ...
@overload
def _minor(value: Decimal | None, currency: str, column: str) -> int | None: ...
def _minor(value: Decimal | None, currency: str, column: str) -> int | None:
    if value is None:
        return None
    try:
        return to_minor(value, currency)
    except MoneyError as exc:
        raise _Invalid(
            f"expected an amount in {currency}: {exc}", column, value
        ) from None


def _informational_minor(value: Decimal | None, currency: str) -> int | None:
    if value is None:
        return None
    try:
        return round_to_minor(value, currency)
    except MoneyError:
        return None


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


# Facts added with the invoice copy's details (migration 0010) and refunds (migration
# 0011), left out of the hash while empty: a record without them hashes as it always did.
COPY_FACTS = frozenset(("terms", "tax_mode", "exchange_rate", "doc_type"))
_REFUND_KEYS = ("refunded_minor", "refunded_on")


def _refunded(
    refunded: Any, on: date | None, ceiling: int, currency: str, what: str
) -> dict[str, Any]:
    """A record's refund (money paid back), no more than *ceiling*."""
    minor = _minor(refunded, currency, "refunded")
    if minor is not None and not 0 <= minor <= ceiling:
        raise _Invalid(
            f"expected a refunded amount between 0 and the {what} "
            f"{format_money(ceiling, currency)}",
            "refunded",
            refunded,
        )
    return {"refunded_minor": minor, "refunded_on": on if minor else None}


def _hash(parts: tuple) -> str:
    return hashlib.blake2b(repr(parts).encode(), digest_size=16).hexdigest()


def content_hash(p: Prepared) -> str:
    """Return the hash re-imports compare: the record's facts, its lines, allocations."""
    facts = (
        v
        for k, v in p.values.items()
        if k not in ("source_updated_at", "content_hash")
        and (v is not None or (k not in COPY_FACTS and k not in _REFUND_KEYS))
    )
    if p.kind == "payment":
        return _hash(("payment", p.account.key, *facts, tuple(p.allocations)))
    # A record without copy details hashes as before they were read (no re-import of
    # an unchanged file looks like a change after the upgrade).
    lines = (
        tuple(ln if ln[1] != "item" else (ln[0], *ln[2:]) for ln in p.lines)
        if p.lines_known
        else "lines not in this export"
    )
    return _hash((p.kind, p.account.key, *facts, lines, tuple(p.allocations)))


def _rate(value: Decimal | None) -> str | None:
    """An exchange rate as decimal text; a rate of zero or below says nothing."""
    if value is None or not value.is_finite() or value <= 0:
        return None
    return f"{value.normalize():f}"


def _currency(record_currency: str | None, default: str) -> str:
    currency = (record_currency or default).strip().upper()
    if not is_currency_code(currency):
        raise _Invalid(
            "expected a three-letter ISO currency code such as USD",
            "currency",
            currency,
        )
    return currency


def _account(account: AccountRecord) -> None:
    if not account.key or not account.key.strip():
        raise _Invalid("expected a customer (name or id)", "customer")


def prepare(
    record: DocumentRecord | PaymentRecord,
    *,
    source: str,
    default_currency: str,
    as_of: datetime | None,
    columns: Mapping[str, str] | None = None,
) -> Prepared | Rejection:
    """Return *record* as store-ready rows, or the Rejection that says why it cannot be.

    *columns* names fields (``memo``, or ``payment.reference`` for one kind) the way
    the export's header does, for the rejections of text longer than its limit.
    """
    try:
        _check_lengths(record, columns or {})
        if isinstance(record, DocumentRecord):
            return _document(record, source, default_currency, as_of)
        return _payment(record, source, default_currency, as_of)
    except _Invalid as exc:
        return Rejection(
            reason=exc.reason,
            line=record.line,
            record=clip(record.label, LABEL_CHARACTERS),
            column=exc.column,
            value=exc.value,
        )


def check_account(
    account: AccountRecord, line: int | None, columns: Mapping[str, str] | None = None
) -> Rejection | None:
    """Return why a customer an export lists on its own cannot be taken, or None."""
    try:
        _check_fields(_account_fields(account), "account", columns or {})
    except _Invalid as exc:
        return Rejection(
            reason=exc.reason,
            line=line,
            record=clip(f"customer {account.name or account.key}", LABEL_CHARACTERS),
            column=exc.column,
            value=exc.value,
        )
    return None


def refuse_bad_email(
    account: AccountRecord,
    label: str,
    line: int | None,
    columns: Mapping[str, str] | None = None,
) -> Rejection | None:
    """Drop an account's email that is not one address, and say so; the record it
    came with is kept (without the email: a known good one stays on the account)."""
    email = account.email
    if email is None or is_email_address(email):
        return None
    account.email = None
    column = (columns or {}).get("customer_email", "customer_email")
    return Rejection(
        reason=f"expected one email address such as name@example.com in {column}; "
        f"the {label} was kept without it. Correct the address in the billing "
        "system and export again",
        line=line,
        record=clip(label, LABEL_CHARACTERS),
        column=column,
        value=preview(email),
    )


def bounded(item: Rejection) -> Rejection:
    """Return an adapter's rejection with its texts cut to a size any page can show."""
    value = item.value
    if value is not None and len(value) > 200:
        value = preview(value)
    return Rejection(
        reason=clip(item.reason, 2000),
        line=item.line,
        record=clip(item.record, LABEL_CHARACTERS) or None,
        column=clip(item.column, 200) or None,
        value=value,
    )


def _account_fields(a: AccountRecord) -> list[tuple[str, str | None]]:
    return [
        ("customer_name", a.name), ("customer_id", a.key), ("customer_email", a.email),
        ("parent_name", a.parent_name), ("parent_id", a.parent_key),
    ]  # fmt: skip


def _check_lengths(
    r: DocumentRecord | PaymentRecord, columns: Mapping[str, str]
) -> None:
    """Reject a record with a text longer than its field's limit (schemas.limits)."""
    fields = _account_fields(r.account)
    if isinstance(r, DocumentRecord):  # before the id, which may be made from it
        fields.append(("number", r.number))
    fields += [("id", r.external_id), ("reference", r.reference), ("memo", r.memo)]
    if isinstance(r, DocumentRecord):
        fields += [("pay_url", r.pay_url), ("terms", r.terms)]
        for line in r.lines:
            fields += [
                ("line_description", line.description), ("line_item", line.item),
                ("line_quantity", _text(line.quantity)),
                ("line_unit_price", _text(line.unit_price)),
            ]  # fmt: skip
    else:
        fields.append(("payment_method", r.method))
    for a in r.allocations:
        fields += [("applies_to", a.invoice_ref), ("applies_to", a.credit_note_ref)]
    _check_fields(
        fields, "payment" if isinstance(r, PaymentRecord) else r.kind, columns
    )


def _check_fields(
    fields: list[tuple[str, str | None]], kind: str, columns: Mapping[str, str]
) -> None:
    for field_name, value in fields:
        if value is None:
            continue
        limit = LIMITS[field_name]
        if len(value) > limit.maximum:
            column = columns.get(f"{kind}.{field_name}") or columns.get(
                field_name, field_name
            )
            raise _Invalid(
                f"expected at most {limit.maximum:,} characters in {column} "
                f"({limit.why}), found {len(value):,}. Shorten it in the billing "
                "system and export again",
                column,
                preview(value),
            )


def _document(
    r: DocumentRecord, source: str, default_currency: str, as_of: datetime | None
) -> Prepared:
    if not r.external_id.strip() or not r.number.strip():
        raise _Invalid("expected a document number", "number", r.number)
    _account(r.account)
    currency = _currency(r.currency, default_currency)
    if r.total is None:
        raise _Invalid("expected a total", "total")
    if r.issue_date is None and r.lifecycle == "issued":
        raise _Invalid("expected an issue date", "issue_date")
    total = _minor(r.total, currency, "total")
    assert total is not None
    if total < 0:
        raise _Invalid("expected a total of zero or more", "total", r.total)
    values: dict[str, Any] = {
        "source": source,
        "external_id": r.external_id.strip(),
        "number": r.number.strip(),
        "currency": currency,
        "issue_date": r.issue_date,
        "due_date": r.due_date,
        "subtotal_minor": _minor(r.subtotal, currency, "subtotal"),
        "tax_minor": _minor(r.tax, currency, "tax"),
        "total_minor": total,
        "lifecycle": r.lifecycle,
        "reference": r.reference,
        "memo": r.memo,
        "pay_url": r.pay_url if _safe_url(r.pay_url) else None,
        "terms": r.terms,
        "tax_mode": r.tax_mode,
        "doc_type": r.document_type,
        "exchange_rate": _rate(r.exchange_rate),
        "source_updated_at": r.updated_at or as_of,
        "source_version": r.version,
    }
    balance = _minor(r.balance, currency, "balance")
    if r.kind == "invoice":
        paid = _minor(r.amount_paid, currency, "amount_paid")
        credited = _minor(r.amount_credited, currency, "amount_credited")
        _check_settlement(r, total, balance, paid, credited, currency)
        values.update(
            feed_paid_minor=paid,
            feed_credited_minor=credited,
            feed_balance_minor=balance,
            paid_flag=r.paid_flag,
        )
    else:
        values.update(feed_remaining_minor=balance)
        values.update(_refunded(r.refunded, r.refunded_on, total, currency, "total"))
    values.update(feed_figures(r.kind, values))
    lines = [
        (
            line.position,
            line.kind,
            line.description or "",
            line.item,
            _text(line.quantity),
            _text(line.unit_price),
            _informational_minor(line.amount, currency),
            _informational_minor(line.tax, currency),
        )
        for line in r.lines
    ]
    allocations = [
        (
            a.kind,
            a.invoice_ref,
            a.credit_note_ref,
            _minor(a.amount, currency, "allocation"),
            currency,
            a.date,
        )
        for a in r.allocations
    ]
    prepared = Prepared(
        kind=r.kind,
        lines_known=r.lines_known,
        key=values["external_id"],
        account=r.account,
        values=values,
        content_hash="",
        updated_at=values["source_updated_at"],
        version=r.version,
        label=r.label,
        line=r.line,
        lines=lines,
        allocations=allocations,
        former_key=r.former_id,
    )
    prepared.content_hash = values["content_hash"] = content_hash(prepared)
    return prepared


def _check_settlement(
    r: DocumentRecord,
    total: int,
    balance: int | None,
    paid: int | None,
    credited: int | None,
    currency: str,
) -> None:
    """An invoice's reported balance lies between zero and its total, and what was
    paid and credited never exceeds the total: anything else is a misread column."""
    if r.lifecycle != "issued":
        return
    if balance is not None and not 0 <= balance <= total:
        raise _Invalid(
            f"expected an open balance between 0 and the invoice total "
            f"{format_money(total, currency)}; check that the balance column holds "
            "what is still due",
            "balance",
            r.balance,
        )
    if balance is None and (paid or 0) + (credited or 0) > total:
        raise _Invalid(
            f"expected amounts paid and credited adding up to no more than the invoice "
            f"total {format_money(total, currency)}",
            "amount_paid",
            r.amount_paid,
        )


def _payment(
    r: PaymentRecord, source: str, default_currency: str, as_of: datetime | None
) -> Prepared:
    if not r.external_id.strip():
        raise _Invalid("expected a payment id or reference", "reference")
    _account(r.account)
    currency = _currency(r.currency, default_currency)
    if r.amount is None:
        raise _Invalid("expected the amount received", "amount")
    if r.date is None:
        raise _Invalid("expected the date the payment was received", "date")
    amount = _minor(r.amount, currency, "amount")
    assert amount is not None
    allocations = [
        (
            a.kind,
            a.invoice_ref,
            a.credit_note_ref,
            _minor(a.amount, currency, "allocation"),
            currency,
            a.date or r.date,
        )
        for a in r.allocations
    ]
    unapplied = _minor(r.unapplied, currency, "unapplied")
    if unapplied is None and r.allocations:
        unapplied = amount - sum(a[3] for a in allocations if a[0] == "cash")
    values: dict[str, Any] = {
        "source": source,
        "external_id": r.external_id.strip(),
        "received_on": r.date,
        "currency": currency,
        "amount_minor": amount,
        "method": r.method,
        "reference": r.reference,
        "memo": r.memo,
        "lifecycle": r.lifecycle,
        "feed_unapplied_minor": _minor(r.unapplied, currency, "unapplied"),
        "unapplied_minor": unapplied,
        **_refunded(r.refunded, r.refunded_on, amount, currency, "amount"),
        "source_updated_at": r.updated_at or as_of,
        "source_version": r.version,
    }
    prepared = Prepared(
        kind="payment",
        key=values["external_id"],
        account=r.account,
        values=values,
        content_hash="",
        updated_at=values["source_updated_at"],
        version=r.version,
        label=r.label,
        line=r.line,
        allocations=allocations,
    )
    prepared.content_hash = values["content_hash"] = content_hash(prepared)
    return prepared


def _safe_url(url: str | None) -> bool:
    """Only http(s) pay links reach a customer's browser (no javascript: URLs)."""
    return url is not None and url.lower().startswith(("https://", "http://"))
