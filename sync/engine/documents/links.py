"""What a document belongs to: the rules that link it, now or when its record arrives.

A document is linked by whichever of these arrives first:

* a **manifest** row (``adapters.manifest``) naming the account (key or name) and
  optionally the invoice or credit note number a file belongs to. A row may arrive
  before or after its file, and before the account or record it names: it waits until
  both are in the store;
* the **number in the file name**, read with the source's ``document_patterns``
  (``INV-{number}.pdf``; the default ``{number}.*`` takes the name up to its first dot).
  The invoice (else credit note) with that number in the file's source, else the only
  one in any source, gets the file as its copy.

A linked document always carries ``account_id`` (the record's account when linked to a
record; the portal relies on it). A file nothing links waits with ``account_id`` NULL:
every batch that brings records tries again (``link_waiting``), and the admin's
Unmatched documents page lists the rest (``unmatched_documents``) and links them by
hand (``link_document``). Nothing is dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, func, select, update

from adapters.manifest import DOCUMENT_KINDS as KINDS
from schemas.tables import (
    ACCOUNTS,
    CREDIT_NOTES,
    DOCUMENTS,
    IMPORT_BATCHES,
    INVOICES,
    MANIFEST_ENTRIES,
    utcnow,
)
from sync.config import Settings
from sync.errors import UsageError
from sync.ledger.accounts import find_accounts, with_sites
from sync.store.audit import record as audit

D = DOCUMENTS
I = INVOICES  # noqa: E741
CN = CREDIT_NOTES
B = IMPORT_BATCHES
M = MANIFEST_ENTRIES


# -- name patterns ------------------------------------------------------------------------


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Turn ``INV-{number}.pdf`` (``*`` matches anything) into a case-blind regex."""
    parts = re.split(r"(\{number\}|\*)", pattern)
    regex = "".join(
        "(?P<number>.+?)" if p == "{number}" else ".*" if p == "*" else re.escape(p)
        for p in parts
    )
    return re.compile(regex, re.IGNORECASE)


def number_in_name(name: str, patterns: tuple[str, ...]) -> str | None:
    """Return the record number the first matching pattern finds in *name*."""
    for pattern in patterns:
        match = compile_pattern(pattern).fullmatch(name)
        if match and match["number"].strip():
            return match["number"].strip()
    return None


# -- finding what a document belongs to ----------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What a document is linked to."""

    account_id: int
    invoice_id: int | None = None
    credit_note_id: int | None = None
    label: str = ""


def _find_record(
    conn: Connection, number: str, source: str | None, accounts: list[int] | None
) -> Target | str | None:
    """Return the one invoice (else credit note) numbered *number*, or why there is none."""
    for table, kind in ((I, "invoice"), (CN, "credit note")):
        stmt = select(table.c.id, table.c.account_id, table.c.number).where(
            func.lower(table.c.number) == number.lower()
        )
        if accounts is not None:
            stmt = stmt.where(table.c.account_id.in_(accounts))
        rows = conn.execute(stmt.order_by(table.c.id)).all()
        if source is not None and len(rows) > 1:
            same = conn.execute(
                stmt.where(table.c.source == source).order_by(table.c.id)
            ).all()
            rows = same or rows
        if len(rows) == 1:
            row = rows[0]
            if table is I:
                return Target(
                    row.account_id, invoice_id=row.id, label=f"invoice {row.number}"
                )
            return Target(
                row.account_id, credit_note_id=row.id, label=f"credit note {row.number}"
            )
        if len(rows) > 1:
            return f"{len(rows)} {kind}s are numbered {number!r}; link it by hand"
    return None


def _target_for_number(conn: Connection, number: str, source: str) -> Target | str:
    found = _find_record(conn, number, source, None)
    if found is None:
        return f"no invoice or credit note numbered {number!r} yet"
    return found


def _target_for_manifest(conn: Connection, entry: Any) -> Target | str:
    accounts: list[int] | None = None
    account_id: int | None = None
    label = ""
    if entry.account_ref:
        found = find_accounts(conn, entry.account_ref, entry.source) or find_accounts(
            conn, entry.account_ref
        )
        if not found:
            return f"no account {entry.account_ref!r} yet"
        if len(found) > 1:
            return f"{len(found)} accounts are called {entry.account_ref!r}; link it by hand"
        account_id = found[0].id
        label = f"account {found[0].name}"
        accounts = with_sites(conn, [account_id])
    if entry.record_ref:
        target = _find_record(conn, entry.record_ref, entry.source, accounts)
        if target is None:
            where = f" of account {entry.account_ref!r}" if entry.account_ref else ""
            return f"no invoice or credit note {entry.record_ref!r}{where} yet"
        return target
    assert account_id is not None
    return Target(account_id, label=label)


def _kind_for(target: Target, requested: str | None) -> str:
    if requested and requested != "other":
        return requested
    if target.invoice_id is not None:
        return "invoice_copy"
    if target.credit_note_id is not None:
        return "credit_note_copy"
    return requested or "other"


def _link(conn: Connection, document_id: int, target: Target, kind: str) -> bool:
    """Link a still-unlinked document; return False if something linked it first."""
    return (
        conn.execute(
            update(D)
            .where(D.c.id == document_id, D.c.account_id.is_(None))
            .values(
                account_id=target.account_id,
                invoice_id=target.invoice_id,
                credit_note_id=target.credit_note_id,
                kind=kind,
            )
        ).rowcount
        == 1
    )


# -- documents arriving ------------------------------------------------------------------


@dataclass(frozen=True)
class Arrival:
    """What happened to a document that arrived."""

    document_id: int
    linked_to: str | None  # "invoice 1001", or None when it waits
    reason: str | None  # why it waits


def apply_entry(conn: Connection, entry: Any, document_id: int) -> Arrival:
    target = _target_for_manifest(conn, entry)
    if isinstance(target, str):
        conn.execute(update(M).where(M.c.id == entry.id).values(reason=target))
        return Arrival(document_id, None, target)
    if not _link(conn, document_id, target, _kind_for(target, entry.kind)):
        conn.execute(
            update(M)
            .where(M.c.id == entry.id)
            .values(state="ignored", reason="the document was linked before")
        )
        return Arrival(document_id, None, None)
    conn.execute(
        update(M)
        .where(M.c.id == entry.id)
        .values(state="linked", reason=None, linked_at=utcnow())
    )
    return Arrival(document_id, target.label, None)


def _name_target(
    conn: Connection, settings: Settings, name: str, source: str
) -> Target | str:
    number = number_in_name(name, settings.source(source).document_patterns)
    if number is None:
        return "its name holds no record number (see the source's document_patterns)"
    return _target_for_number(conn, number, source)


def _link_reason(conn: Connection, settings: Settings, name: str, source: str) -> str:
    target = _name_target(conn, settings, name, source)
    return target if isinstance(target, str) else ""


def link_by_name(
    conn: Connection, settings: Settings, document_id: int, name: str, source: str
) -> Arrival:
    target = _name_target(conn, settings, name, source)
    if isinstance(target, str):
        return Arrival(document_id, None, target)
    _link(conn, document_id, target, _kind_for(target, None))
    return Arrival(document_id, target.label, None)


# -- later: records arrive, admins act -----------------------------------------------------


def link_waiting(conn: Connection, settings: Settings) -> int:
    """Link waiting documents whose manifest row or record has arrived; return how many."""
    done = 0
    entries = conn.execute(
        select(M).where(M.c.state == "pending", M.c.document_id.is_not(None))
    ).all()
    waiting_on_manifest = set()
    for entry in entries:
        waiting_on_manifest.add(entry.document_id)
        if apply_entry(conn, entry, entry.document_id).linked_to:
            done += 1
    rows = conn.execute(
        select(D.c.id, D.c.file_name, B.c.source)
        .join(B, B.c.id == D.c.batch_id, isouter=True)
        .where(D.c.account_id.is_(None))
    ).all()
    for row in rows:
        if row.id in waiting_on_manifest:
            continue
        arrival = link_by_name(
            conn, settings, row.id, row.file_name, row.source or "default"
        )
        if arrival.linked_to:
            done += 1
    return done


def unmatched_documents(
    conn: Connection, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Return documents waiting for an admin (no account yet), oldest first.

    ``reason`` says why each waits: its manifest row's reason, else (with *settings*)
    what its name gives now, else what was recorded when it arrived.
    """
    rows = conn.execute(
        select(
            D.c.id, D.c.file_name, D.c.content_type, D.c.size, D.c.sha256, D.c.kind,
            D.c.created_at, D.c.batch_id, B.c.source, B.c.warnings,
        )
        .join(B, B.c.id == D.c.batch_id, isouter=True)
        .where(D.c.account_id.is_(None))
        .order_by(D.c.created_at, D.c.id)
    ).all()  # fmt: skip
    reasons = {
        r.document_id: r.reason
        for r in conn.execute(
            select(M.c.document_id, M.c.reason).where(
                M.c.state == "pending", M.c.document_id.is_not(None)
            )
        )
    }

    def why(r: Any) -> str:
        if r.id in reasons:
            return reasons[r.id]
        if settings is not None:
            found = _link_reason(conn, settings, r.file_name, r.source or "default")
            if found:
                return found
        recorded = json.loads(r.warnings or "[]")
        match = re.match(r"not linked yet \((.*)\);", recorded[0]) if recorded else None
        if match:
            return match[1]
        return "no manifest row names it and no record matches its name"

    return [
        {
            "id": r.id,
            "file_name": r.file_name,
            "content_type": r.content_type,
            "size": r.size,
            "sha256": r.sha256,
            "kind": r.kind,
            "source": r.source,
            "batch_id": r.batch_id,
            "created_at": r.created_at,
            "reason": why(r),
        }
        for r in rows
    ]


def link_document(
    conn: Connection,
    document_id: int,
    *,
    invoice_id: int | None = None,
    credit_note_id: int | None = None,
    account_id: int | None = None,
    kind: str | None = None,
    actor: str = "admin",
) -> dict[str, Any]:
    """Link (or relink) a document to an invoice, a credit note or an account.

    Linking to a record sets the document's account to the record's. Raises UsageError
    for an unknown document, record or account, or a kind billfold does not know.
    """
    if sum(x is not None for x in (invoice_id, credit_note_id, account_id)) != 1:
        raise UsageError(
            "link a document to exactly one invoice, credit note or account"
        )
    if kind is not None and kind not in KINDS:
        raise UsageError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    doc = conn.execute(select(D.c.id).where(D.c.id == document_id)).first()
    if doc is None:
        raise UsageError(f"there is no document {document_id}")
    if invoice_id is not None:
        row = conn.execute(
            select(I.c.account_id, I.c.number).where(I.c.id == invoice_id)
        ).first()
        if row is None:
            raise UsageError(f"there is no invoice {invoice_id}")
        target = Target(
            row.account_id, invoice_id=invoice_id, label=f"invoice {row.number}"
        )
    elif credit_note_id is not None:
        row = conn.execute(
            select(CN.c.account_id, CN.c.number).where(CN.c.id == credit_note_id)
        ).first()
        if row is None:
            raise UsageError(f"there is no credit note {credit_note_id}")
        target = Target(
            row.account_id,
            credit_note_id=credit_note_id,
            label=f"credit note {row.number}",
        )
    else:
        A = ACCOUNTS
        if conn.execute(select(A.c.id).where(A.c.id == account_id)).first() is None:
            raise UsageError(f"there is no account {account_id}")
        assert account_id is not None
        target = Target(account_id)
    chosen = _kind_for(target, kind)
    conn.execute(
        update(D)
        .where(D.c.id == document_id)
        .values(
            account_id=target.account_id,
            invoice_id=target.invoice_id,
            credit_note_id=target.credit_note_id,
            kind=chosen,
        )
    )
    conn.execute(
        update(M)
        .where(M.c.document_id == document_id, M.c.state == "pending")
        .values(state="ignored", reason=f"linked by {actor}")
    )
    audit(
        conn,
        actor,
        "link_document",
        account_id=target.account_id,
        record_kind="document",
        record_id=document_id,
        kind=chosen,
        invoice_id=target.invoice_id,
        credit_note_id=target.credit_note_id,
    )
    return dict(conn.execute(select(D).where(D.c.id == document_id)).mappings().one())


def link_named(
    conn: Connection,
    document_id: int,
    *,
    account: str,
    record: str | None = None,
    kind: str | None = None,
    actor: str = "admin",
) -> dict[str, Any]:
    """Link a document to the account an admin names (its key or name) and, with
    *record*, to that account's invoice (else credit note) of that number; audited.

    The same rules as a manifest row (``_target_for_manifest``); raises UsageError
    saying what was not found.
    """
    entry = SimpleNamespace(
        account_ref=account.strip() or None,
        record_ref=(record or "").strip() or None,
        source=None,
    )
    if entry.account_ref is None:
        raise UsageError("name the account the document belongs to (its key or name)")
    target = _target_for_manifest(conn, entry)
    if isinstance(target, str):
        raise UsageError(target.removesuffix(" yet"))
    return link_document(
        conn,
        document_id,
        invoice_id=target.invoice_id,
        credit_note_id=target.credit_note_id,
        account_id=(
            target.account_id
            if target.invoice_id is None and target.credit_note_id is None
            else None
        ),
        kind=kind or None,
        actor=actor,
    )
