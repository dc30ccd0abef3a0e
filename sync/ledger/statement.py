"""Statements: an account's activity and open items over a date range."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, select

from schemas.records import document_title
from schemas.tables import ACCOUNTS
from sync.ledger.accounts import with_sites
from sync.ledger.settlements import Line, Part, day_text, read_records, settle

A = ACCOUNTS


BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
UNDATED_NOTE = (
    "The billing system's exports say some invoices were paid (or credit was used) "
    "without saying when. Each such movement is shown on the day an export first "
    "reported it. At the end of a period before that day, an invoice paid this way is "
    "listed as paid (date not in the export), not as open or late, and its amount stays "
    "in the closing balance."
)


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
class UndatedItem:
    """An invoice reported paid after the end date by an export that gives no date."""

    number: str
    issue_date: date | None
    due_date: date | None
    total: int
    amount: int  # what the export reports settled, on no known date
    first_reported: date

    @property
    def note(self) -> str:
        return f"paid (date not in the export), first reported {day_text(self.first_reported)}"


@dataclass
class Ledger:
    """One account's movements in one currency over the period."""

    currency: str
    opening: int
    lines: list[tuple[Line, int]]  # (line, running balance after it)
    closing: int
    open_items: list[OpenItem]
    aging: dict[str, int]
    unmatched: int  # closing minus open and undated invoices: credit not matched
    undated: list[UndatedItem] = field(default_factory=list)

    @property
    def charges(self) -> int:
        return sum(line.amount for line, _ in self.lines if line.amount > 0)

    @property
    def credits(self) -> int:
        return sum(line.amount for line, _ in self.lines if line.amount < 0)

    @property
    def undated_total(self) -> int:
        return sum(item.amount for item in self.undated)

    @property
    def has_undated(self) -> bool:
        """True when a movement or an invoice here is dated by its first report."""
        return bool(self.undated) or any(not ln.date_known for ln, _ in self.lines)


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

    @property
    def notes(self) -> list[str]:
        """What a reader must know to read the figures right."""
        undated = any(lg.has_undated for s in self.sections for lg in s.ledgers)
        return [UNDATED_NOTE] if undated else []

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
                        "undated": 0,
                        "aging": dict.fromkeys(BUCKETS, 0),
                    },
                )
                t["opening"] += ledger.opening
                t["charges"] += ledger.charges
                t["credits"] += ledger.credits
                t["closing"] += ledger.closing
                t["unmatched"] += ledger.unmatched
                t["undated"] += ledger.undated_total
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


def build_statement(
    conn: Connection,
    account_id: int,
    start: date,
    end: date,
    visible: Collection[int] | None = None,
) -> Statement:
    """Compute the statement of *account_id* and its sites from *start* to *end*.

    *visible* limits the sections to the accounts a portal contact may see; money from
    any other account (a parent's cheque for a site the contact cannot see; a store
    written before allocations across customer trees were refused) is shown without
    naming where it came from or went (``sync.ledger.settlements``).
    """
    ids = [i for i in with_sites(conn, [account_id]) if visible is None or i in visible]
    accounts = {
        r.id: r
        for r in conn.execute(
            select(A.c.id, A.c.name, A.c.external_key, A.c.parent_id).where(
                A.c.id.in_(ids)
            )
        )
    }
    names = {r.id: r.name for r in accounts.values()}
    records = read_records(conn, ids)
    settled = settle(conn, records, ids, names)

    events: dict[tuple[int, str], list[Line]] = defaultdict(list)
    for inv in records.invoices:
        events[(inv.account_id, inv.currency)].append(
            Line(inv.issue_date, "invoice", inv.number, _describe_invoice(inv),
                 inv.total_minor, inv.due_date)
        )  # fmt: skip
    for cn in records.credits:
        events[(cn.account_id, cn.currency)].append(
            Line(cn.issue_date, "credit_note", cn.number, _describe_credit(cn),
                 -cn.total_minor)
        )  # fmt: skip
    for p in records.payments:
        if p.amount_minor:
            events[(p.account_id, p.currency)].append(
                Line(p.received_on, "payment", p.reference or p.external_id,
                     _describe_payment(p), -p.amount_minor)
            )  # fmt: skip
    for ledger, lines in settled.lines.items():
        events[ledger].extend(lines)

    sections = []
    order = [
        account_id,
        *sorted((i for i in ids if i != account_id), key=lambda i: names[i].casefold()),
    ]
    for aid in order:
        acc = accounts[aid]
        parent = names.get(acc.parent_id) if acc.parent_id else None
        section = Section(aid, acc.name, acc.external_key, parent)
        for currency in sorted({cur for (a, cur) in events if a == aid}):
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
            mine = [
                inv
                for inv in records.invoices
                if inv.account_id == aid and inv.currency == currency
            ]
            open_items, undated = _open_at(mine, settled.parts, end)
            aging = dict.fromkeys(BUCKETS, 0)
            for item in open_items:
                aging[item.bucket] += item.open
            unmatched = running - sum(aging.values()) - sum(u.amount for u in undated)
            section.ledgers.append(
                Ledger(currency, opening, period, running, open_items, aging,
                       unmatched, undated)
            )  # fmt: skip
        sections.append(section)
    root = accounts[account_id]
    return Statement(root.name, root.external_key, start, end, sections)


def _open_at(
    invoices: list[Any], parts: dict[int, list[Part]], end: date
) -> tuple[list[OpenItem], list[UndatedItem]]:
    """What of *invoices* was open on *end*, and what was settled on no known date
    that an export reported only after *end* (neither open nor late: not known)."""
    open_items, undated = [], []
    for inv in invoices:
        if inv.issue_date is None or inv.issue_date > end:
            continue
        settled = later = 0
        first: date | None = None
        for part in parts.get(inv.id, ()):
            if part.on is None or part.on <= end:
                settled += part.amount
            elif not part.date_known and part.amount > 0:
                later += part.amount
                first = part.on if first is None else min(first, part.on)
        owed = max(inv.total_minor - settled, 0)
        later = min(later, owed)
        if later and first is not None:
            undated.append(
                UndatedItem(inv.number, inv.issue_date, inv.due_date, inv.total_minor,
                            later, first)
            )  # fmt: skip
        if owed - later <= 0:
            continue
        days = (end - (inv.due_date or inv.issue_date)).days
        open_items.append(
            OpenItem(inv.number, inv.issue_date, inv.due_date, inv.total_minor,
                     owed - later, max(days, 0), _bucket(days))
        )  # fmt: skip
    open_items.sort(key=lambda o: (o.due_date or o.issue_date or end, o.number))
    undated.sort(key=lambda u: (u.first_reported, u.number))
    return open_items, undated


_KIND_ORDER = {
    "invoice": 0,
    "credit_note": 1,
    "payment": 2,
    "transfer": 3,
    "credit_applied": 3,
    "reported_payment": 4,
    "reported_credit": 4,
    "reported_settlement": 4,
    "credit_used": 4,
    "refund": 4,
    "payment_adjustment": 4,
    "settlement_adjustment": 4,
    "paid_mark": 5,
}


def _describe_invoice(inv: Any) -> str:
    text = f"{document_title('invoice', inv.doc_type)} {inv.number}"
    if inv.reference:
        text += f" ({inv.reference})"
    elif inv.memo:
        text += f": {inv.memo}"
    return text


def _describe_credit(cn: Any) -> str:
    title = document_title("credit_note", cn.doc_type)
    return f"{title} {cn.number}" + (f": {cn.memo}" if cn.memo else "")


def _describe_payment(p: Any) -> str:
    text = "Payment received"
    if p.method:
        text += f" ({p.method})"
    if p.memo and p.memo != "Payment received":
        text += f": {p.memo}"
    return text
