"""Statements: what happened on an account between two dates, and what is owed at the end.

A statement is computed from the ledger, never imported. Per account (a parent gets one
section per site) and per currency it gives the opening balance, every invoice, credit
note and payment dated in the period with a running balance, the closing balance, and
the aging of what is still open at the end date (current, 1-30, 31-60, 61-90, 90+ days
past due).

Signs: anything that increases what the customer owes is positive (invoices), anything
that reduces it negative (credit notes, payments). Cash comes from payment records when
the account's exports carry them; otherwise from each invoice's reported paid amount,
dated when the export reported it. An admin's paid mark counts only for the part the
feed does not already show (the max rule), dated on the mark's payment date.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, select

from schemas.money import to_text
from schemas.tables import Account, Allocation, CreditNote, Invoice, PaidMark, Payment
from sync.allocations import LIVE_ALLOCATION, live_allocations, roots, within
from sync.apply import ACTIVE_MARK_STATES
from sync.ledger import with_sites

A = Account.__table__  # type: ignore[attr-defined]
I = Invoice.__table__  # type: ignore[attr-defined]  # noqa: E741
C = CreditNote.__table__  # type: ignore[attr-defined]
P = Payment.__table__  # type: ignore[attr-defined]
AL = Allocation.__table__  # type: ignore[attr-defined]
M = PaidMark.__table__  # type: ignore[attr-defined]

BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")


@dataclass(frozen=True)
class Line:
    """One dated movement on the account."""

    on: date
    kind: str  # invoice, credit_note, payment, reported_payment, reported_settlement, paid_mark
    reference: str
    description: str
    amount: int  # minor units; positive increases what is owed
    due_date: date | None = None


@dataclass
class OpenItem:
    """An invoice still open at the statement's end date."""

    number: str
    issue_date: date | None
    due_date: date | None
    total: int
    open: int
    days_past_due: int
    bucket: str


@dataclass
class Ledger:
    """One account's movements in one currency over the period."""

    currency: str
    opening: int
    lines: list[tuple[Line, int]]  # (line, running balance after it)
    closing: int
    open_items: list[OpenItem]
    aging: dict[str, int]
    unmatched: int  # closing minus open invoices: payments and credits not matched

    @property
    def charges(self) -> int:
        return sum(line.amount for line, _ in self.lines if line.amount > 0)

    @property
    def credits(self) -> int:
        return sum(line.amount for line, _ in self.lines if line.amount < 0)


@dataclass
class Section:
    """One account of the statement (the account itself, or one of its sites)."""

    account_id: int
    name: str
    key: str
    parent: str | None
    ledgers: list[Ledger] = field(default_factory=list)


@dataclass
class Statement:
    """A statement for an account (with its sites) over a period."""

    account: str
    account_key: str
    start: date
    end: date
    sections: list[Section]

    def totals(self) -> dict[str, dict[str, Any]]:
        """Return per-currency totals over every section."""
        out: dict[str, dict[str, Any]] = {}
        for section in self.sections:
            for ledger in section.ledgers:
                t = out.setdefault(
                    ledger.currency,
                    {
                        "opening": 0,
                        "charges": 0,
                        "credits": 0,
                        "closing": 0,
                        "unmatched": 0,
                        "aging": dict.fromkeys(BUCKETS, 0),
                    },
                )
                t["opening"] += ledger.opening
                t["charges"] += ledger.charges
                t["credits"] += ledger.credits
                t["closing"] += ledger.closing
                t["unmatched"] += ledger.unmatched
                for bucket, amount in ledger.aging.items():
                    t["aging"][bucket] += amount
        return out


def _bucket(days: int) -> str:
    if days <= 0:
        return "current"
    if days <= 30:
        return "1-30"
    if days <= 60:
        return "31-60"
    if days <= 90:
        return "61-90"
    return "90+"


def _day(moment: datetime | date | None, floor: date | None) -> date | None:
    """The date a reported figure became known: the export's time, never before *floor*."""
    if moment is None:
        return floor
    day = moment.date() if isinstance(moment, datetime) else moment
    return max(day, floor) if floor else day


def build_statement(
    conn: Connection,
    account_id: int,
    start: date,
    end: date,
    visible: set[int] | None = None,
) -> Statement:
    """Compute the statement of *account_id* and its sites from *start* to *end*.

    *visible* limits the sections to the accounts a portal contact may see. Only
    payments and credits from the account's own parent/site tree settle its invoices.
    """
    ids = [i for i in with_sites(conn, [account_id]) if visible is None or i in visible]
    tree = with_sites(conn, [roots(conn, [account_id]).get(account_id, account_id)])
    accounts = {
        r.id: r
        for r in conn.execute(
            select(A.c.id, A.c.name, A.c.external_key, A.c.parent_id).where(
                A.c.id.in_(ids)
            )
        )
    }
    names = {r.id: r.name for r in accounts.values()}
    invoices = conn.execute(
        select(I).where(I.c.account_id.in_(ids), I.c.lifecycle == "issued")
    ).all()
    credits = conn.execute(
        select(C).where(C.c.account_id.in_(ids), C.c.lifecycle == "issued")
    ).all()
    payments = conn.execute(
        select(P).where(P.c.account_id.in_(ids), P.c.lifecycle == "active")
    ).all()
    invoice_ids = [r.id for r in invoices]
    allocations: dict[int, list[tuple[date | None, int]]] = defaultdict(list)
    if invoice_ids:
        for r in conn.execute(
            select(AL.c.invoice_id, AL.c.applied_on, AL.c.amount_minor)
            .select_from(live_allocations())
            .where(LIVE_ALLOCATION, AL.c.invoice_id.in_(invoice_ids), within(tree))
        ):
            allocations[r.invoice_id].append((r.applied_on, r.amount_minor))
    mark_dates: dict[int, date] = {}
    if invoice_ids:
        for r in conn.execute(
            select(M.c.invoice_id, M.c.paid_on).where(
                M.c.invoice_id.in_(invoice_ids), M.c.state.in_(ACTIVE_MARK_STATES)
            )
        ):
            mark_dates[r.invoice_id] = max(
                r.paid_on, mark_dates.get(r.invoice_id, r.paid_on)
            )
    has_payments = {(p.account_id, p.currency) for p in payments}

    events: dict[tuple[int, str], list[Line]] = defaultdict(list)
    settlements: dict[int, list[tuple[date | None, int]]] = defaultdict(list)
    for inv in invoices:
        slot = events[(inv.account_id, inv.currency)]
        slot.append(
            Line(
                inv.issue_date,
                "invoice",
                inv.number,
                _describe_invoice(inv),
                inv.total_minor,
                inv.due_date,
            )
        )
        settlements[inv.id].extend(allocations.get(inv.id, []))
        allocated = sum(a for _, a in allocations.get(inv.id, []))
        observed = _day(inv.source_updated_at, inv.issue_date)
        excess = inv.marked_excess_minor or 0
        if inv.settled_by is not None or excess:
            feed_settled = (inv.total_minor - (inv.balance_minor or 0)) - excess
            if inv.balance_minor is None:
                feed_settled = 0
            unmatched = feed_settled - allocated
            if unmatched > 0:
                settlements[inv.id].append((observed, unmatched))
        if (inv.account_id, inv.currency) not in has_payments:
            cash = _reported_cash(inv)
            if cash:
                kind, what = cash
                slot.append(
                    Line(
                        observed,
                        kind,
                        inv.number,
                        what,
                        -_reported_amount(inv),
                    )
                )
        if excess:
            when = mark_dates.get(inv.id, observed)
            slot.append(
                Line(
                    when,
                    "paid_mark",
                    inv.number,
                    f"Payment recorded for invoice {inv.number}",
                    -excess,
                )
            )
            settlements[inv.id].append((when, excess))
    for cn in credits:
        events[(cn.account_id, cn.currency)].append(
            Line(
                cn.issue_date,
                "credit_note",
                cn.number,
                _describe_credit(cn),
                -cn.total_minor,
            )
        )
    for p in payments:
        if p.amount_minor:
            events[(p.account_id, p.currency)].append(
                Line(
                    p.received_on,
                    "payment",
                    p.reference or p.external_id,
                    _describe_payment(p),
                    -p.amount_minor,
                )
            )

    sections = []
    order = [
        account_id,
        *sorted((i for i in ids if i != account_id), key=lambda i: names[i].casefold()),
    ]
    for aid in order:
        acc = accounts[aid]
        parent = names.get(acc.parent_id) if acc.parent_id else None
        section = Section(aid, acc.name, acc.external_key, parent)
        currencies = sorted({cur for (a, cur) in events if a == aid})
        for currency in currencies:
            lines = sorted(
                (e for e in events[(aid, currency)] if e.on is not None),
                key=lambda e: (e.on, _KIND_ORDER.get(e.kind, 9), e.reference),
            )
            opening = sum(e.amount for e in lines if e.on < start)
            running = opening
            period = []
            for e in lines:
                if start <= e.on <= end:
                    running += e.amount
                    period.append((e, running))
            closing = running
            open_items = []
            for inv in invoices:
                if inv.account_id != aid or inv.currency != currency:
                    continue
                if inv.issue_date is None or inv.issue_date > end:
                    continue
                settled = sum(
                    a for on, a in settlements[inv.id] if on is None or on <= end
                )
                open_amount = max(inv.total_minor - settled, 0)
                if open_amount <= 0:
                    continue
                basis = inv.due_date or inv.issue_date
                days = (end - basis).days
                open_items.append(
                    OpenItem(
                        inv.number,
                        inv.issue_date,
                        inv.due_date,
                        inv.total_minor,
                        open_amount,
                        max(days, 0),
                        _bucket(days),
                    )
                )
            open_items.sort(key=lambda o: (o.due_date or o.issue_date or end, o.number))
            aging = dict.fromkeys(BUCKETS, 0)
            for item in open_items:
                aging[item.bucket] += item.open
            section.ledgers.append(
                Ledger(
                    currency,
                    opening,
                    period,
                    closing,
                    open_items,
                    aging,
                    closing - sum(aging.values()),
                )
            )
        sections.append(section)
    root = accounts[account_id]
    return Statement(root.name, root.external_key, start, end, sections)


_KIND_ORDER = {
    "invoice": 0,
    "credit_note": 1,
    "payment": 2,
    "reported_payment": 3,
    "reported_settlement": 3,
    "paid_mark": 4,
}


def _reported_amount(inv: Any) -> int:
    excess = inv.marked_excess_minor or 0
    if inv.paid_minor is not None:
        return inv.paid_minor - excess
    if inv.balance_minor is not None:
        settled = inv.total_minor - inv.balance_minor - excess
        return settled - (inv.credited_minor or 0)
    return 0


def _reported_cash(inv: Any) -> tuple[str, str] | None:
    if _reported_amount(inv) <= 0:
        return None
    if inv.paid_minor is not None:
        return (
            "reported_payment",
            f"Payments on invoice {inv.number} (as reported by the billing system)",
        )
    return (
        "reported_settlement",
        f"Paid or credited on invoice {inv.number} (as reported by the billing system)",
    )


def _describe_invoice(inv: Any) -> str:
    text = f"Invoice {inv.number}"
    if inv.reference:
        text += f" ({inv.reference})"
    elif inv.memo:
        text += f": {inv.memo}"
    return text


def _describe_credit(cn: Any) -> str:
    return f"Credit note {cn.number}" + (f": {cn.memo}" if cn.memo else "")


def _describe_payment(p: Any) -> str:
    text = "Payment received"
    if p.method:
        text += f" ({p.method})"
    if p.memo and p.memo != "Payment received":
        text += f": {p.memo}"
    return text


def statement_json(statement: Statement) -> dict[str, Any]:
    """Return the statement as JSON-ready data (money as decimal strings)."""

    def money(v: int, cur: str) -> str | None:
        return to_text(v, cur)

    return {
        "account": statement.account,
        "account_key": statement.account_key,
        "from": statement.start.isoformat(),
        "to": statement.end.isoformat(),
        "sections": [
            {
                "account": s.name,
                "account_key": s.key,
                "parent": s.parent,
                "currencies": [
                    {
                        "currency": lg.currency,
                        "opening_balance": money(lg.opening, lg.currency),
                        "lines": [
                            {
                                "date": line.on.isoformat(),
                                "type": line.kind,
                                "reference": line.reference,
                                "description": line.description,
                                "amount": money(line.amount, lg.currency),
                                "balance": money(running, lg.currency),
                                "due_date": line.due_date.isoformat()
                                if line.due_date
                                else None,
                            }
                            for line, running in lg.lines
                        ],
                        "closing_balance": money(lg.closing, lg.currency),
                        "open_invoices": [
                            {
                                "number": o.number,
                                "issue_date": o.issue_date.isoformat()
                                if o.issue_date
                                else None,
                                "due_date": o.due_date.isoformat()
                                if o.due_date
                                else None,
                                "total": money(o.total, lg.currency),
                                "open": money(o.open, lg.currency),
                                "days_past_due": o.days_past_due,
                                "bucket": o.bucket,
                            }
                            for o in lg.open_items
                        ],
                        "aging": {
                            b: money(v, lg.currency) for b, v in lg.aging.items()
                        },
                        "unmatched_credits": money(lg.unmatched, lg.currency),
                    }
                    for lg in s.ledgers
                ],
            }
            for s in statement.sections
        ],
        "totals": {
            cur: {
                "opening_balance": money(t["opening"], cur),
                "charges": money(t["charges"], cur),
                "credits": money(t["credits"], cur),
                "closing_balance": money(t["closing"], cur),
                "aging": {b: money(v, cur) for b, v in t["aging"].items()},
                "unmatched_credits": money(t["unmatched"], cur),
            }
            for cur, t in sorted(statement.totals().items())
        },
    }


STATEMENT_CSV_HEADER = (
    "account", "account_key", "currency", "date", "type", "reference", "description",
    "amount", "balance",
)  # fmt: skip


def statement_csv(statement: Statement) -> bytes:
    """Return the statement as CSV: opening, each line, closing, then the aging rows."""
    from sync.csv_out import write_csv

    rows: list[list[object]] = []
    start, end = statement.start.isoformat(), statement.end.isoformat()
    for s in statement.sections:
        for lg in s.ledgers:
            cur = lg.currency
            base = [s.name, s.key, cur]
            rows.append(
                [
                    *base,
                    start,
                    "opening_balance",
                    "",
                    "Opening balance",
                    "",
                    to_text(lg.opening, cur),
                ]
            )
            for line, running in lg.lines:
                rows.append(
                    [*base, line.on.isoformat(), line.kind, line.reference, line.description,
                     to_text(line.amount, cur), to_text(running, cur)]
                )  # fmt: skip
            rows.append(
                [
                    *base,
                    end,
                    "closing_balance",
                    "",
                    "Closing balance",
                    "",
                    to_text(lg.closing, cur),
                ]
            )
            for bucket, amount in lg.aging.items():
                rows.append(
                    [
                        *base,
                        end,
                        "aging",
                        bucket,
                        f"Open invoices {bucket} days past due"
                        if bucket != "current"
                        else "Open invoices not yet due",
                        to_text(amount, cur),
                        "",
                    ]
                )
            rows.append(
                [
                    *base,
                    end,
                    "unmatched_credits",
                    "",
                    "Payments and credits not matched to an invoice",
                    to_text(lg.unmatched, cur),
                    "",
                ]
            )
    return write_csv(STATEMENT_CSV_HEADER, rows, text_columns=(0, 1, 5, 6))
