"""Paid marks: what the office knows that no feed says, and how feeds are held against it.

A ``PaidMark`` is an admin's append-only assertion that an invoice is paid (in full or
up to an amount). It never gets edited by an import; its effect is ``max(feed, mark)``
(schemas.settlement), never the sum. When a batch touches a marked invoice, the feed is
judged against the mark (DESIGN.md, "Manual marks"):

* the feed now shows at least the marked amount settled -> the mark is *confirmed*
  (closed); the feed's own figures take over;
* the feed voids or deletes the invoice -> void wins; the mark is *superseded* and a
  ``feed_void`` conflict asks the office to check (a refund may be owed);
* the total changed, or the feed's settled amount went down since the mark (a bounced
  payment) -> the mark is *conflicted*: the invoice keeps the marked status and a
  ``feed_disagrees`` conflict waits for one of two actions (keep the mark, accept the
  feed);
* anything else (the feed still lags) -> nothing changes.

Customers can say "I've paid" (a ``PaymentClaim``); confirming one creates a mark.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, insert, select, update

from schemas.money import DEFAULT_LOCALE, format_money
from schemas.tables import (
    CONFLICTS,
    CONTACTS,
    INVOICES,
    PAID_MARKS,
    PAYMENT_CLAIMS,
    utcnow,
)
from sync.errors import UsageError
from sync.ledger.figures import ACTIVE_MARK_STATES, invoice_figures, refresh_derived
from sync.store.audit import record

M = PAID_MARKS
K = CONFLICTS
I = INVOICES  # noqa: E741
CL = PAYMENT_CLAIMS
CO = CONTACTS
# The window a customer's "I've paid" date must fall in (claim_window).
CLAIM_EARLIEST = date(2000, 1, 1)
CLAIM_DAYS_BEFORE_ISSUE = 180
CONFLICT_ACTIONS = {
    "feed_void": ("acknowledge",),
    "feed_disagrees": ("keep_mark", "accept_feed"),
}


def _invoice(conn: Connection, invoice_id: int) -> Any:
    row = conn.execute(select(I).where(I.c.id == invoice_id)).first()
    if row is None:
        raise UsageError(f"there is no invoice {invoice_id}")
    return row


def mark_paid(
    conn: Connection,
    invoice_id: int,
    *,
    paid_on: date,
    actor: str,
    amount_minor: int | None = None,
    method: str | None = None,
    reference: str | None = None,
    note: str | None = None,
    locale: str = DEFAULT_LOCALE,
) -> int:
    """Record that an invoice is paid (up to *amount_minor*, default its total).

    The amount is the total the office says is settled, not an increment
    (sync.mark_plans turns a payment received now into it). An earlier open mark on
    the same invoice is superseded (history is kept). A mark that would settle no more
    than is settled already changes nothing and is refused, saying so.
    """
    inv = _invoice(conn, invoice_id)

    def money(minor: int) -> str:
        return format_money(minor, inv.currency, locale=locale)

    if inv.lifecycle != "issued":
        raise UsageError(
            f"invoice {inv.number} is {inv.lifecycle}; only issued invoices can be marked paid"
        )
    amount = inv.total_minor if amount_minor is None else amount_minor
    if amount <= 0 or amount > inv.total_minor:
        raise UsageError(
            f"the amount paid on invoice {inv.number} must be more than 0 and at most its "
            f"total {money(inv.total_minor)}"
        )
    _, current = invoice_figures(conn, [invoice_id])[invoice_id]
    if current.settled is not None and amount <= current.settled:
        raise UsageError(
            f"invoice {inv.number} already has {money(current.settled)} of "
            f"{money(inv.total_minor)} settled, so marking {money(amount)} settled "
            "would change nothing. Record the payment received now, or undo an "
            "earlier mark to correct it."
        )
    _, feed = invoice_figures(conn, [invoice_id], with_marks=False)[invoice_id]
    now = utcnow()
    conn.execute(
        update(M)
        .where(M.c.invoice_id == invoice_id, M.c.state.in_(ACTIVE_MARK_STATES))
        .values(
            state="superseded",
            state_changed_at=now,
            state_changed_by=actor,
            state_reason="a newer mark",
        )
    )
    mark_id: int = conn.execute(
        insert(M)
        .values(
            invoice_id=invoice_id,
            amount_minor=amount,
            paid_on=paid_on,
            method=method or None,
            reference=reference or None,
            note=note or None,
            created_by=actor,
            created_at=now,
            state="active",
            basis_settled_minor=feed.settled,
            basis_total_minor=inv.total_minor,
            basis_content_hash=inv.content_hash,
        )
        .returning(M.c.id)
    ).scalar_one()
    refresh_derived(conn, [invoice_id])
    _record_on_invoice(
        conn, actor, "mark_paid", inv, mark=mark_id, amount=amount, paid_on=paid_on,
        method=method, reference=reference,
    )  # fmt: skip
    return mark_id


def _record_on_invoice(
    conn: Connection, actor: str, action: str, inv: Any, **detail: Any
) -> None:
    """Audit *action* on invoice row *inv* (its account and id)."""
    record(
        conn, actor, action, account_id=inv.account_id, record_kind="invoice",
        record_id=inv.id, **detail,
    )  # fmt: skip


def undo_mark(
    conn: Connection, mark_id: int, actor: str, reason: str = "undone"
) -> None:
    """Withdraw a mark (it stays in the history as revoked)."""
    mark = conn.execute(select(M).where(M.c.id == mark_id)).first()
    if mark is None or mark.state not in ACTIVE_MARK_STATES:
        raise UsageError(f"paid mark {mark_id} is not open")
    now = utcnow()
    conn.execute(
        update(M)
        .where(M.c.id == mark_id)
        .values(
            state="revoked",
            state_changed_at=now,
            state_changed_by=actor,
            state_reason=reason,
        )
    )
    _close_conflicts(conn, mark_id, actor, "mark withdrawn")
    refresh_derived(conn, [mark.invoice_id])
    _record_on_invoice(
        conn, actor, "undo_mark", _invoice(conn, mark.invoice_id), mark=mark_id
    )


def _close_conflicts(
    conn: Connection, mark_id: int, actor: str, resolution: str
) -> None:
    conn.execute(
        update(K)
        .where(K.c.mark_id == mark_id, K.c.resolved_at.is_(None))
        .values(resolved_at=utcnow(), resolved_by=actor, resolution=resolution)
    )


def _open_conflict(
    conn: Connection, kind: str, mark: Any, batch_id: int | None, **detail: Any
) -> None:
    already = conn.execute(
        select(K.c.id).where(
            K.c.mark_id == mark.id, K.c.kind == kind, K.c.resolved_at.is_(None)
        )
    ).first()
    if already:
        return
    conn.execute(
        insert(K).values(
            kind=kind,
            invoice_id=mark.invoice_id,
            mark_id=mark.id,
            batch_id=batch_id,
            detail=json.dumps(detail, default=str, sort_keys=True),
            opened_at=utcnow(),
        )
    )


def evaluate_marks(
    conn: Connection, invoice_ids: Iterable[int], batch_id: int | None, actor: str
) -> int:
    """Judge fresh feed facts against open marks (inside the import's transaction).

    Returns how many conflicts were opened.
    """
    ids = sorted(set(invoice_ids))
    if not ids:
        return 0
    marks = conn.execute(
        select(M).where(M.c.invoice_id.in_(ids), M.c.state.in_(ACTIVE_MARK_STATES))
    ).all()
    if not marks:
        return 0
    feeds = invoice_figures(conn, [m.invoice_id for m in marks], with_marks=False)
    opened = 0
    now = utcnow()
    for mark in marks:
        inv, feed = feeds[mark.invoice_id]

        def move(state: str, reason: str, mark: Any = mark) -> None:
            conn.execute(
                update(M)
                .where(M.c.id == mark.id)
                .values(
                    state=state,
                    state_changed_at=now,
                    state_changed_by=actor,
                    state_reason=reason,
                )
            )

        if inv.lifecycle in ("void", "deleted"):
            move("superseded", f"the feed {inv.lifecycle} the invoice")
            _open_conflict(
                conn, "feed_void", mark, batch_id,
                feed=inv.lifecycle, marked=mark.amount_minor, currency=inv.currency,
            )  # fmt: skip
            opened += 1
        elif feed.settled is not None and feed.settled >= mark.amount_minor:
            move("confirmed", "the feed shows it paid")
            _close_conflicts(conn, mark.id, actor, "the feed caught up")
            _record_on_invoice(conn, actor, "mark_confirmed", inv, mark=mark.id)
        elif (
            mark.basis_total_minor is not None
            and inv.total_minor != mark.basis_total_minor
        ) or (
            feed.settled is not None
            and mark.basis_settled_minor is not None
            and feed.settled < mark.basis_settled_minor
        ):
            if mark.state != "conflicted":
                move("conflicted", "the feed disagrees")
            _open_conflict(
                conn, "feed_disagrees", mark, batch_id,
                feed_total=inv.total_minor, basis_total=mark.basis_total_minor,
                feed_settled=feed.settled, basis_settled=mark.basis_settled_minor,
                marked=mark.amount_minor, currency=inv.currency,
            )  # fmt: skip
            opened += 1
    return opened


def resolve_conflict(
    conn: Connection, conflict_id: int, action: str, actor: str
) -> None:
    """Settle a conflict with one of its actions (see CONFLICT_ACTIONS)."""
    conflict = conn.execute(select(K).where(K.c.id == conflict_id)).first()
    if conflict is None or conflict.resolved_at is not None:
        raise UsageError(f"conflict {conflict_id} is not open")
    if action not in CONFLICT_ACTIONS.get(conflict.kind, ()):
        raise UsageError(f"{action!r} does not resolve a {conflict.kind} conflict")
    now = utcnow()
    if action == "keep_mark" and conflict.mark_id:
        _, feed = invoice_figures(conn, [conflict.invoice_id], with_marks=False)[
            conflict.invoice_id
        ]
        inv = _invoice(conn, conflict.invoice_id)
        # The office stands by its mark: judge later feeds from what the feed says now.
        conn.execute(
            update(M)
            .where(M.c.id == conflict.mark_id)
            .values(
                state="active", state_changed_at=now, state_changed_by=actor, state_reason="kept by the office",
                basis_settled_minor=feed.settled, basis_total_minor=inv.total_minor,
            )
        )  # fmt: skip
    elif action == "accept_feed" and conflict.mark_id:
        conn.execute(
            update(M)
            .where(M.c.id == conflict.mark_id)
            .values(
                state="revoked",
                state_changed_at=now,
                state_changed_by=actor,
                state_reason="feed accepted",
            )
        )
    conn.execute(
        update(K)
        .where(K.c.id == conflict_id)
        .values(resolved_at=now, resolved_by=actor, resolution=action)
    )
    refresh_derived(conn, [conflict.invoice_id])
    _record_on_invoice(
        conn, actor, "resolve_conflict", _invoice(conn, conflict.invoice_id),
        conflict=conflict_id, resolution=action,
    )  # fmt: skip


def claim_window(issue_date: date | None) -> tuple[date, date]:
    """The first and last day a customer may say they paid an invoice issued then.

    Not before ``CLAIM_DAYS_BEFORE_ISSUE`` days ahead of the invoice (a deposit), never
    before 2000, and not after today as it is anywhere on Earth (UTC plus a day).
    """
    earliest = CLAIM_EARLIEST
    if issue_date is not None:
        earliest = max(earliest, issue_date - timedelta(days=CLAIM_DAYS_BEFORE_ISSUE))
    return earliest, utcnow().date() + timedelta(days=1)


def pending_claim(conn: Connection, invoice_id: int, contact_id: int) -> Any:
    """The contact's "I've paid" for this invoice that waits for the office, or None."""
    return conn.execute(
        select(CL).where(
            CL.c.invoice_id == invoice_id,
            CL.c.contact_id == contact_id,
            CL.c.state == "pending",
        )
    ).first()


def claim_payment(
    conn: Connection,
    invoice_id: int,
    contact_id: int,
    *,
    amount_minor: int,
    paid_on: date,
    reference: str | None,
    note: str | None,
    ip: str | None = None,
    locale: str = DEFAULT_LOCALE,
) -> int:
    """Record a customer's "I've paid"; nothing changes until the office confirms it.

    One claim per invoice and contact waits at a time: a repeat (a double click, a
    second tab, a script) is refused with the claim already on record. The amount must
    be more than 0 and at most the open balance (the total where the billing system
    reports no payments).
    """
    # Claims of one contact take turns (PostgreSQL: this row lock; SQLite: BEGIN
    # IMMEDIATE), so two at once cannot both find no pending claim.
    conn.execute(select(CO.c.id).where(CO.c.id == contact_id).with_for_update())
    inv, figures = invoice_figures(conn, [invoice_id]).get(invoice_id, (None, None))
    if inv is None or figures is None:
        raise UsageError(f"there is no invoice {invoice_id}")
    waiting = pending_claim(conn, invoice_id, contact_id)
    if waiting is not None:
        raise UsageError(
            f"you already told us on {waiting.created_at:%d %b %Y} that you paid "
            f"{format_money(waiting.amount_minor, inv.currency, locale=locale)} on "
            f"{waiting.paid_on:%d %b %Y}; we are checking it and will update the "
            "invoice"
        )
    earliest, latest = claim_window(inv.issue_date)
    if not earliest <= paid_on <= latest:
        raise UsageError(
            f"the date paid must be between {earliest:%d %b %Y} and today; "
            f"{paid_on.isoformat()} is {'in the future' if paid_on > latest else 'too early'}"
        )
    open_minor = inv.total_minor if figures.balance is None else figures.balance
    if amount_minor <= 0 or amount_minor > open_minor:
        shown = format_money(open_minor, inv.currency, locale=locale)
        raise UsageError(
            f"the amount must be more than 0 and at most the balance due, {shown}"
        )
    claim_id: int = conn.execute(
        insert(CL)
        .values(
            invoice_id=invoice_id, contact_id=contact_id, amount_minor=amount_minor, paid_on=paid_on,
            reference=reference or None, note=note or None, created_at=utcnow(), state="pending",
        )
        .returning(CL.c.id)
    ).scalar_one()  # fmt: skip
    _record_on_invoice(
        conn, f"contact:{contact_id}", "claim_paid", inv, ip=ip, claim=claim_id,
        amount=amount_minor,
    )  # fmt: skip
    return claim_id


def confirm_claim(conn: Connection, claim_id: int, actor: str) -> int:
    """Accept a customer's "I've paid": it becomes a paid mark. Returns the mark id."""
    claim = conn.execute(select(CL).where(CL.c.id == claim_id)).first()
    if claim is None or claim.state != "pending":
        raise UsageError(f"claim {claim_id} is not waiting for a decision")
    row, now_figures = invoice_figures(conn, [claim.invoice_id])[claim.invoice_id]
    settled = now_figures.settled or 0
    if row.lifecycle == "issued" and settled >= row.total_minor:
        raise UsageError(
            f"invoice {row.number} is already paid in full, so confirming this claim "
            "would change nothing; reject it instead"
        )
    amount = min(row.total_minor, settled + claim.amount_minor)
    mark_id = mark_paid(
        conn, claim.invoice_id, paid_on=claim.paid_on, actor=actor, amount_minor=amount,
        method="reported by customer", reference=claim.reference, note=claim.note,
    )  # fmt: skip
    conn.execute(
        update(CL)
        .where(CL.c.id == claim_id)
        .values(
            state="confirmed", resolved_at=utcnow(), resolved_by=actor, mark_id=mark_id
        )
    )
    _record_on_invoice(
        conn, actor, "confirm_claim", _invoice(conn, claim.invoice_id),
        claim=claim_id, mark=mark_id,
    )  # fmt: skip
    return mark_id


def reject_claim(conn: Connection, claim_id: int, actor: str) -> None:
    """Turn down a customer's "I've paid" (it stays on record)."""
    claim = conn.execute(select(CL).where(CL.c.id == claim_id)).first()
    if claim is None or claim.state != "pending":
        raise UsageError(f"claim {claim_id} is not waiting for a decision")
    conn.execute(
        update(CL)
        .where(CL.c.id == claim_id)
        .values(state="rejected", resolved_at=utcnow(), resolved_by=actor)
    )
    _record_on_invoice(
        conn, actor, "reject_claim", _invoice(conn, claim.invoice_id), claim=claim_id
    )
