"""Settlements: what paid or credited each invoice, and when, as a statement shows it.

A statement to today closes at exactly ``billfold balances``' net for the same account
and currency. ``sync.ledger.balances.net_bases`` says how that net was worked out; this module
gives the movements a statement needs beyond the invoices, credit notes and payment
records themselves for its lines to add up to it:

* settlement an export reports without its payment or credit-note record (an invoice
  list's paid amount; a QuickBooks balance of 0 with one of its two payments in the
  files): a line per invoice on the day an export first reported it
  (``sync.engine.first_reports``), marked as not dated by the export, since it says paid but
  not when;
* credit a credit note's export reports used beyond what it was applied to here, and
  cash a payment record reports neither applied nor left on account: a refund on its
  day where the export says what was refunded and when (``refunded_minor``), else
  "refunded or otherwise used";
* payments and credit notes applied to an invoice of another account (a parent's cheque
  paying a site's invoice), on both accounts, and credit from a credit note that is
  not in the exports;
* what an admin's paid mark adds beyond the feed (the max rule), on the mark's date.

Where an invoice's reported credit and a credit note's unexplained use are the same
money (a Xero CSV says neither which credit note nor which invoice), they cancel: the
credit note's own line already shows the credit.

It also says, per invoice, which part of its total was settled on which day (``Part``),
so a statement can tell what was open, and how late, on its end date.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any, TypeGuard

from sqlalchemy import Connection, func, select

from schemas.records import document_title
from schemas.settlement import HIDDEN_LIFECYCLES
from schemas.tables import (
    ALLOCATIONS,
    CREDIT_NOTES,
    INVOICES,
    PAID_MARKS,
    PAYMENTS,
)
from sync.ledger.allocations import LIVE_ALLOCATION, live_allocations, one_tree, roots
from sync.ledger.balances import net_bases
from sync.ledger.figures import ACTIVE_MARK_STATES, paid_by_feed, settled_by_feed

I = INVOICES  # noqa: E741
C = CREDIT_NOTES
P = PAYMENTS
AL = ALLOCATIONS
M = PAID_MARKS
TO = INVOICES.alias("to_invoice")
FROM_P = PAYMENTS.alias("from_payment")
FROM_C = CREDIT_NOTES.alias("from_credit_note")

# What the Payments page lists beside payment records (cash, never credit).
CASH_KINDS = ("reported_payment", "reported_settlement", "paid_mark")
# What was allocated to an invoice nothing was applied to.
NONE = {"cash": 0, "credit": 0}


@lru_cache(maxsize=4096)
def day_text(day: date) -> str:
    """A day as statements write it in words: 15 Jun 2025."""
    return f"{day:%d %b %Y}"


@dataclass(frozen=True)
class Line:
    """One dated movement on the account; positive increases what is owed."""

    on: date
    kind: str  # invoice, credit_note, payment, paid_mark, transfer, credit_applied,
    # reported_payment, reported_credit, reported_settlement, credit_used,
    # payment_adjustment, settlement_adjustment, refund
    reference: str
    description: str
    amount: int  # minor units
    due_date: date | None = None
    # False: the day is when an export first reported it, not when it was paid
    date_known: bool = True
    invoice_id: int | None = None  # the invoice a settlement line is about


@dataclass(frozen=True)
class Part:
    """Part of an invoice's total settled on a day (``date_known`` False: first reported)."""

    on: date | None
    amount: int
    date_known: bool = True


@dataclass
class Records:
    """The issued invoices and credit notes and active payments of some accounts."""

    invoices: Sequence[Any]
    credits: Sequence[Any]
    payments: Sequence[Any]


@dataclass
class Settlements:
    """Movements beyond the records' own lines, and what settled each invoice when."""

    lines: dict[tuple[int, str], list[Line]] = field(
        default_factory=lambda: defaultdict(list)
    )
    parts: dict[int, list[Part]] = field(default_factory=lambda: defaultdict(list))


def read_records(conn: Connection, ids: list[int]) -> Records:
    """Read what a statement of the accounts *ids* shows (drafts and voids left out)."""
    return Records(
        conn.execute(
            select(I).where(I.c.account_id.in_(ids), I.c.lifecycle == "issued")
        ).all(),
        conn.execute(
            select(C).where(C.c.account_id.in_(ids), C.c.lifecycle == "issued")
        ).all(),
        conn.execute(
            select(P).where(P.c.account_id.in_(ids), P.c.lifecycle == "active")
        ).all(),
    )


def first_reported(record: Any, on: date | None) -> date | None:
    """The day an export first reported *record*'s settlement (never before it was issued)."""
    moment = record.source_updated_at
    day = on or (moment.date() if moment is not None else None) or record.issue_date
    if record.issue_date is not None and day is not None:
        return max(day, record.issue_date)
    return day


def settle(
    conn: Connection, records: Records, ids: list[int], names: dict[int, str]
) -> Settlements:
    """Work out the movements and settled parts of *records* (accounts *ids*).

    *names* are the accounts a reader may see by name; any other is "another account".
    """
    bases = net_bases(conn, ids) if ids else {}
    out = Settlements()
    invoices = {inv.id: inv for inv in records.invoices}
    sources = {("payment", p.id) for p in records.payments}
    sources |= {("credit_note", c.id) for c in records.credits}

    def balanced(ledger: tuple[int, str] | None) -> TypeGuard[tuple[int, str]]:
        return ledger is not None and bases.get(ledger) == "balances"

    allocated: dict[int, dict[str, int]] = {}
    given: dict[tuple[str, int], int] = defaultdict(int)
    for a in _allocations(conn, ids):
        source = _source_of(a)
        source_ledger = None if source is None else (a.from_account, a.from_currency)
        target = (a.to_account, a.to_currency) if a.to_lifecycle == "issued" else None
        when = a.applied_on or a.from_date or a.to_date
        if a.invoice_id in invoices:
            out.parts[a.invoice_id].append(Part(a.applied_on, a.amount))
            sums = allocated.setdefault(a.invoice_id, {"cash": 0, "credit": 0})
            sums[a.kind] += a.amount
            if balanced(target) and source_ledger != target:
                out.lines[target].append(_arriving(a, source, names, when))
        if source in sources:
            given[source] += a.amount
            if balanced(source_ledger) and target != source_ledger:
                out.lines[source_ledger].append(_leaving(a, target, names, when))

    marks = _mark_days(conn, ids)
    has_payments = {(p.account_id, p.currency) for p in records.payments}
    credit: dict[tuple[int, str], list[tuple[Any, int, date]]] = defaultdict(list)
    for inv in records.invoices:
        ledger = (inv.account_id, inv.currency)
        excess = inv.marked_excess_minor or 0
        if excess:
            day = marks.get(inv.id) or first_reported(
                inv, inv.settled_first_reported_on
            )
            out.lines[ledger].append(
                Line(day, "paid_mark", inv.number,  # type: ignore[arg-type]  # an undated record's line keeps on=None; build_statement leaves such lines out
                     f"Payment recorded by our office for invoice {inv.number}", -excess,
                     invoice_id=inv.id)
            )  # fmt: skip
            out.parts[inv.id].append(Part(day, excess))
        if balanced(ledger):
            found = _reported_with_balances(inv, allocated.get(inv.id, NONE), out)
            if found:
                credit[ledger].append((inv, *found))
        else:
            basis = bases.get(ledger, "unknown")
            if basis == "unknown" and ledger in has_payments:
                basis = "payments"  # as before: cash comes from the payment records
            _reported_without_balances(inv, basis, allocated.get(inv.id, NONE), out)

    used: dict[tuple[int, str], list[tuple[Any, int, date]]] = defaultdict(list)
    for c in records.credits:
        ledger = (c.account_id, c.currency)
        if balanced(ledger):
            rest = c.total_minor - c.remaining_minor - given[("credit_note", c.id)]
            day = first_reported(c, c.used_first_reported_on)
            rest -= _refund(
                out,
                ledger,
                c,
                (document_title("credit_note", c.doc_type), c.number),
                rest,
                day,
            )
            if rest > 0:
                used[ledger].append((c, rest, day))  # type: ignore[arg-type]  # an undated record's line keeps on=None; build_statement leaves such lines out
            elif rest < 0:
                out.lines[ledger].append(
                    Line(day, "settlement_adjustment", c.number,  # type: ignore[arg-type]  # an undated record's line keeps on=None; build_statement leaves such lines out
                         f"Credit note {c.number}: applied beyond what the billing "
                         "system reports used", rest)
                )  # fmt: skip
        elif bases.get(ledger) in ("payments", "invoices"):  # credit notes count whole
            day = first_reported(c, c.used_first_reported_on)
            _refund(
                out,
                ledger,
                c,
                (document_title("credit_note", c.doc_type), c.number),
                c.refunded_minor,
                day,
            )
    for p in records.payments:
        ledger = (p.account_id, p.currency)
        named = ("Payment", p.reference or p.external_id)
        if balanced(ledger):
            rest = p.amount_minor - p.unapplied_minor - given[("payment", p.id)]
            rest -= _refund(out, ledger, p, named, rest, p.received_on)
            if rest:
                out.lines[ledger].append(_payment_rest(p, rest))
        elif bases.get(ledger) == "payments":  # the net counts every payment whole
            _refund(out, ledger, p, named, p.refunded_minor, p.received_on)
    for ledger in credit.keys() | used.keys():
        _match_credit(ledger, credit[ledger], used[ledger], out)
    return out


def _source_of(a: Any) -> tuple[str, int] | None:
    """The record an allocation's money comes from (None: a credit note not in the store)."""
    if a.kind == "cash" and a.payment_id is not None:
        return ("payment", a.payment_id)
    if a.kind == "credit" and a.credit_note_id is not None:
        return ("credit_note", a.credit_note_id)
    return None


def _allocations(conn: Connection, ids: list[int]) -> list[Any]:
    """Live allocations to the issued invoices, or from the active payments and issued
    credit notes, of the accounts *ids*, with both ends' account and currency."""
    if not ids:
        return []
    joined = (
        live_allocations()
        .outerjoin(TO, TO.c.id == AL.c.invoice_id)
        .outerjoin(FROM_P, (AL.c.kind == "cash") & (FROM_P.c.id == AL.c.payment_id))
        .outerjoin(
            FROM_C, (AL.c.kind == "credit") & (FROM_C.c.id == AL.c.credit_note_id)
        )
    )
    columns = select(
        AL.c.id, AL.c.kind, AL.c.amount_minor.label("amount"), AL.c.applied_on,
        AL.c.invoice_id, AL.c.payment_id, AL.c.credit_note_id, AL.c.invoice_ref,
        AL.c.credit_note_ref, TO.c.number.label("to_number"),
        TO.c.account_id.label("to_account"), TO.c.currency.label("to_currency"),
        TO.c.lifecycle.label("to_lifecycle"), TO.c.issue_date.label("to_date"),
        func.coalesce(FROM_P.c.account_id, FROM_C.c.account_id).label("from_account"),
        func.coalesce(FROM_P.c.currency, FROM_C.c.currency).label("from_currency"),
        func.coalesce(FROM_P.c.received_on, FROM_C.c.issue_date).label("from_date"),
        func.coalesce(FROM_P.c.reference, FROM_P.c.external_id, FROM_C.c.number)
        .label("from_reference"),
    ).select_from(joined)  # fmt: skip
    # One indexed lookup per end (an OR across the joins would scan every allocation).
    found: dict[int, Any] = {}
    for column, table, state in (
        (AL.c.invoice_id, I, "issued"),
        (AL.c.payment_id, P, "active"),
        (AL.c.credit_note_id, C, "issued"),
    ):
        ends = select(table.c.id).where(
            table.c.account_id.in_(ids), table.c.lifecycle == state
        )
        for row in conn.execute(columns.where(LIVE_ALLOCATION, column.in_(ends))):
            if column is not AL.c.payment_id or row.kind == "cash":
                found[row.id] = row
    # Money moves only within one customer's parent/site tree (sync.allocations): one
    # across trees (in a store written before that rule) settles nothing shown here.
    both = {r.to_account for r in found.values()} | {
        r.from_account for r in found.values()
    }
    tops = roots(conn, both - {None})
    kept = [
        r
        for r in found.values()
        if r.to_account is None
        or r.from_account is None
        or one_tree(tops, r.to_account, r.from_account)
    ]
    return sorted(kept, key=lambda r: (r.applied_on or date.min, r.id))


def _mark_days(conn: Connection, ids: list[int]) -> dict[int, date]:
    """The latest payment date of each open paid mark on the accounts' invoices."""
    days: dict[int, date] = {}
    for r in conn.execute(
        select(M.c.invoice_id, M.c.paid_on)
        .join(I, I.c.id == M.c.invoice_id)
        .where(I.c.account_id.in_(ids), M.c.state.in_(ACTIVE_MARK_STATES))
    ):
        days[r.invoice_id] = max(r.paid_on, days.get(r.invoice_id, r.paid_on))
    return days


def _arriving(
    a: Any, source: tuple[str, int] | None, names: dict[int, str], on: date
) -> Line:
    """Money from outside this account and currency applied to one of its invoices."""
    number = a.to_number
    if source is None:
        ref = a.credit_note_ref or ""
        return Line(
            on, "credit_applied", ref,
            f"Credit note {ref} applied to invoice {number} (the credit note is not in "
            "the exports)",
            -a.amount,
        )  # fmt: skip
    what = "Payment" if source[0] == "payment" else "Credit note"
    where = names.get(a.from_account)
    if where is None:
        text = f"{what} from another account applied to invoice {number}"
        reference = number
    else:
        reference = a.from_reference
        place = where if a.from_account != a.to_account else a.from_currency
        text = f"{what} {reference} ({place}) applied to invoice {number}"
    return Line(on, "transfer", reference, text, -a.amount)


def _leaving(
    a: Any, target: tuple[int, str] | None, names: dict[int, str], on: date
) -> Line:
    """Money of this account's payment or credit note applied outside its invoices."""
    what = "Payment" if a.kind == "cash" else "Credit note"
    reference = a.from_reference
    if a.invoice_id is None:  # the reference is the payer's own export's
        where = f"invoice {a.invoice_ref} (not in the exports)"
    elif a.to_account not in names:
        where = "an invoice of another account"
    elif a.to_lifecycle in HIDDEN_LIFECYCLES:  # never shown to customers, nor named
        where = "an invoice that was not issued"
    elif target is None:
        where = f"invoice {a.to_number} ({a.to_lifecycle})"
    elif a.to_account == a.from_account:
        where = f"invoice {a.to_number} ({a.to_currency})"
    else:
        where = f"invoice {a.to_number} ({names[a.to_account]})"
    return Line(
        on, "transfer", reference, f"{what} {reference} applied to {where}", a.amount
    )


def _refund(
    out: Settlements,
    ledger: tuple[int, str],
    record: Any,
    named: tuple[str, str],
    up_to: int | None,
    day: date | None,
) -> int:
    """A line for what *record*'s export says was paid back to the customer (no more
    than *up_to*), on the day it was, else *day*; return the amount it shows."""
    amount = min(record.refunded_minor or 0, max(up_to or 0, 0))
    on = record.refunded_on or day
    if amount <= 0 or on is None:
        return 0
    what, reference = named
    out.lines[ledger].append(
        Line(on, "refund", reference,
             f"{what} {reference}: refunded to the customer", amount)
    )  # fmt: skip
    return amount


def _payment_rest(p: Any, rest: int) -> Line:
    """Cash a payment record reports neither applied here nor left on account."""
    reference = p.reference or p.external_id
    if rest > 0:
        text = (
            f"Payment {reference}: refunded or otherwise used (neither applied to an "
            "invoice nor left on account, as reported by the billing system)"
        )
    else:
        text = (
            f"Payment {reference}: applied beyond its amount (as reported by the "
            "billing system)"
        )
    return Line(p.received_on, "payment_adjustment", reference, text, rest)


def _reported_with_balances(
    inv: Any, allocated: dict[str, int], out: Settlements
) -> tuple[int, date] | None:
    """Lines for the settlement an invoice's balance reports beyond its allocations.

    Returns the part that is credit (amount, first reported) for ``_match_credit``.
    """
    settled = settled_by_feed(inv)
    assert settled is not None  # only invoices whose balance is known come here
    rest = settled - sum(allocated.values())
    if not rest:
        return None
    day: date = first_reported(inv, inv.settled_first_reported_on)  # type: ignore[assignment]  # an undated record's line keeps on=None; build_statement leaves such lines out
    ledger = (inv.account_id, inv.currency)
    if rest < 0:
        out.lines[ledger].append(
            Line(day, "settlement_adjustment", inv.number,
                 f"Invoice {inv.number}: payments and credits recorded beyond what the "
                 "billing system reports settled", -rest)
        )  # fmt: skip
        out.parts[inv.id].append(Part(day, rest))
        return None
    cash = credit = None
    paid = paid_by_feed(inv)
    if paid is not None and inv.credited_minor is not None:
        cash = paid - allocated["cash"]
        credit = inv.credited_minor - allocated["credit"]
    if cash is None or credit is None or min(cash, credit) < 0 or cash + credit != rest:
        cash, credit = None, 0
    if cash is None:
        out.lines[ledger].append(_undated(inv, "reported_settlement", rest, day))
        out.parts[inv.id].append(Part(day, rest, date_known=False))
    elif cash:
        out.lines[ledger].append(_undated(inv, "reported_payment", cash, day))
        out.parts[inv.id].append(Part(day, cash, date_known=False))
    return (credit, day) if credit else None


def _reported_without_balances(
    inv: Any, basis: str, allocated: dict[str, int], out: Settlements
) -> None:
    """Where the net is not made of balances, an invoice's reported settlement still
    settles it for aging; its cash is a line where no payment records carry it."""
    excess = inv.marked_excess_minor or 0
    day = first_reported(inv, inv.settled_first_reported_on)
    settled = settled_by_feed(inv)
    if settled is not None and (inv.settled_by is not None or excess):
        rest = settled - sum(allocated.values())
        if rest > 0:
            out.parts[inv.id].append(Part(day, rest, date_known=False))
    if basis == "payments" or day is None:
        return
    paid = paid_by_feed(inv)
    if paid is not None:
        cash, kind = paid, "reported_payment"
    elif settled is not None:
        cash, kind = settled - (inv.credited_minor or 0), "reported_settlement"
    else:
        return
    if cash > 0:
        out.lines[(inv.account_id, inv.currency)].append(_undated(inv, kind, cash, day))


def _undated(inv: Any, kind: str, amount: int, day: date) -> Line:
    what = {
        "reported_payment": "paid",
        "reported_credit": "credited (the credit note is not in the exports)",
        "reported_settlement": "paid or credited",
    }[kind]
    return Line(
        day, kind, inv.number,
        f"Invoice {inv.number}: {what} (date not in the export), first reported "
        f"{day_text(day)}",
        -amount, date_known=False, invoice_id=inv.id,
    )  # fmt: skip


def _match_credit(
    ledger: tuple[int, str],
    credit: list[tuple[Any, int, date]],
    used: list[tuple[Any, int, date]],
    out: Settlements,
) -> None:
    """Credit invoices report and credit notes' use of credit, in one account and
    currency, are the same money as far as they go (oldest first): the credit note's own
    line shows it. What is left is a line of its own, dated when first reported."""
    credit = sorted(credit, key=lambda x: (x[2], x[0].number))
    left: list[list[Any]] = [
        [c, rest, day]
        for c, rest, day in sorted(used, key=lambda x: (x[2], x[0].number))
    ]
    for inv, amount, day in credit:
        for u in left:
            take = min(amount, u[1])
            if take > 0:
                u[1] -= take
                amount -= take
                # Applied no later than either was reported; when, the exports do not say.
                out.parts[inv.id].append(Part(min(day, u[2]), take, date_known=False))
        if amount:
            out.lines[ledger].append(_undated(inv, "reported_credit", amount, day))
            out.parts[inv.id].append(Part(day, amount, date_known=False))
    for c, rest, day in left:
        if rest:
            out.lines[ledger].append(
                Line(day, "credit_used", c.number,
                     f"Credit note {c.number}: refunded or otherwise used (date not in the "
                     f"export), first reported {day_text(day)}", rest, date_known=False)
            )  # fmt: skip
