"""Bulk invitations from a CSV of ``email, name, account`` (and optionally ``role``).

Every row gets an outcome, never an exception: ``invited``, ``already`` (the contact
could already see that account) or ``rejected`` with the reason. A file that cannot be
read at all is rejected whole with one reason. The account column takes an account key
or name. Rows for the same address are merged into one invitation (one email, one
link). A revoked contact is never restored from a file (an old spreadsheet uploaded
again must not undo a revocation): that is done on the contact's own page.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from dataclasses import dataclass, field

from sqlalchemy import Connection, func, or_, select

from schemas.tables import ACCOUNTS, GRANTS
from sync.access.contacts import (
    contact_by_id,
    ensure_contact,
    find_contact,
    normalise_email,
)
from sync.access.grants import ROLES, grant_access, may_sign_in
from sync.access.links import issue_link
from sync.errors import UsageError
from sync.ledger.accounts import find_accounts
from sync.store.audit import record

A = ACCOUNTS
G = GRANTS

MAX_ROWS = 2000
MAX_NAME = 200
MAX_CELL = 500  # longer cells are cut in the report (they are rejected anyway)


@dataclass
class Row:
    """One line of the file and what became of it."""

    line: int
    email: str
    name: str
    account: str
    outcome: str = "rejected"  # invited, already, rejected
    reason: str = ""
    account_id: int | None = None


@dataclass
class BulkResult:
    """The per-row report, and the invitations to mail once the transaction commits."""

    rows: list[Row] = field(default_factory=list)
    mails: list[tuple[str, str]] = field(default_factory=list)  # (email, link secret)

    def count(self, outcome: str) -> int:
        """How many rows ended as *outcome*."""
        return sum(1 for r in self.rows if r.outcome == outcome)


def clean_name(text: str) -> str | None:
    """A person's name as typed: no control or format characters, at most 200 long."""
    kept = "".join(
        " " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text
    )
    kept = " ".join(kept.split())[:MAX_NAME]
    return kept or None


def read_rows(data: bytes) -> list[tuple[int, list[str]]]:
    """Return (line number, cells) of every non-blank row, header dropped.

    Raises UsageError when the file as a whole cannot be read.
    """
    if not data.strip():
        raise UsageError("the file is empty")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError as exc:
            raise UsageError(
                "the file is not text; save it as CSV (UTF-8) and upload it again"
            ) from exc
    if "\x00" in text:
        raise UsageError("the file is not text; save it as CSV (UTF-8)")
    rows: list[tuple[int, list[str]]] = []
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1  # a quoted cell may span lines: report the line a row starts on
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if (
                not rows
                and cells
                and cells[0].strip().casefold() in ("email", "e-mail")
            ):
                continue  # the header
            rows.append((line, cells))
            if len(rows) > MAX_ROWS:
                raise UsageError(
                    f"the file has more than {MAX_ROWS} rows; split it into smaller files"
                )
    except csv.Error as exc:
        raise UsageError(
            f"line {reader.line_num} cannot be read as CSV ({exc})"
        ) from exc
    if not rows:
        raise UsageError("the file has a header but no rows")
    return rows


def _account(conn: Connection, text: str) -> tuple[int | None, str]:
    if not text:
        return None, "no account given"
    found = find_accounts(conn, text)
    if not found:  # spreadsheets change case; accept it when that names one account
        needle = unicodedata.normalize("NFC", text).strip().casefold()
        ids: list[int] = [
            r.id
            for r in conn.execute(
                select(A.c.id).where(
                    or_(
                        func.lower(A.c.external_key) == needle,
                        func.lower(A.c.name) == needle,
                    )
                )
            )
        ]
        if len(ids) == 1:
            return ids[0], ""
    if not found:
        return None, f"no account has the key or name {text!r}"
    if len(found) > 1:
        sources = ", ".join(sorted({a.source for a in found}))
        return None, (
            f"{text!r} names {len(found)} accounts (sources: {sources}); invite this "
            "contact from the Invite form instead"
        )
    return found[0].id, ""


def bulk_invite(
    conn: Connection,
    data: bytes,
    role: str,
    *,
    actor: str,
    link_hours: int,
    ip: str | None = None,
) -> BulkResult:
    """Invite everyone a CSV names; report every row. Raises UsageError for a bad file."""
    if role not in ROLES:
        raise UsageError(f"role must be one of {', '.join(ROLES)}")
    result = BulkResult()
    seen: dict[tuple[str, int], int] = {}  # (email, account) -> first line
    first_line: dict[str, int] = {}
    wanted: dict[
        str, tuple[str | None, str, list[int]]
    ] = {}  # email -> name, role, ids
    for line, cells in read_rows(data):
        cells = [c.strip() for c in cells]
        padded = [c[:MAX_CELL] for c in [*cells, "", "", ""][:3]]
        row = Row(line, padded[0], padded[1], padded[2])
        result.rows.append(row)
        if len(cells) < 3:
            row.reason = "expected 3 columns: email, name, account"
            continue
        row_role = role
        if len(cells) > 3 and cells[3]:
            row_role = cells[3].casefold()
            if row_role not in ROLES:
                row.reason = f"role must be billing or documents, not {cells[3][:40]!r}"
                continue
        try:
            email = normalise_email(cells[0])
        except UsageError:
            row.reason = "not an email address"
            continue
        row.email = email
        name = clean_name(cells[1])
        row.name = name or ""
        row.account_id, row.reason = _account(conn, cells[2])
        if row.account_id is None:
            continue
        key = (email, row.account_id)
        if key in seen:
            row.reason = f"duplicate of line {seen[key]}"
            continue
        seen[key] = line
        contact = find_contact(conn, email)
        if contact is not None:
            if contact["revoked_at"] is not None:
                row.reason = (
                    "this contact's access was revoked; restore it from their page"
                )
                continue
            covering = _covering_grant(conn, contact["id"], row.account_id)
            if covering is not None:
                row.outcome = "already"
                row.reason = covering
                continue
        previous = wanted.get(email)
        if previous is not None and previous[1] != row_role:
            row.reason = f"asks for another role than line {first_line[email]}"
            continue
        first_line.setdefault(email, line)
        ids = previous[2] if previous else []
        ids.append(row.account_id)
        wanted[email] = (previous[0] if previous else name, row_role, ids)
        row.outcome = "invited"
    for email, (name, row_role, ids) in wanted.items():
        _, token = invite(
            conn, email, ids, row_role, actor=actor, link_hours=link_hours, name=name,
            ip=ip,
        )  # fmt: skip
        result.mails.append((email, token))
    record(
        conn, actor, "bulk_invite", ip=ip, invited=result.count("invited"),
        already=result.count("already"), rejected=result.count("rejected"),
    )  # fmt: skip
    return result


def _covering_grant(conn: Connection, contact_id: int, account_id: int) -> str | None:
    """Why the contact can already see *account_id* (its grant or a parent's), or None."""
    grants = {
        r.account_id: r.role
        for r in conn.execute(
            select(G.c.account_id, G.c.role).where(G.c.contact_id == contact_id)
        )
    }
    node: int | None = account_id
    seen: set[int] = set()
    while node is not None and node not in seen:
        seen.add(node)
        if node in grants:
            if node == account_id:
                return f"{grants[node]} role"
            name: str = conn.execute(
                select(A.c.name).where(A.c.id == node)
            ).scalar_one()
            return f"through {name}, {grants[node]} role"
        node = conn.execute(
            select(A.c.parent_id).where(A.c.id == node)
        ).scalar_one_or_none()
    return None


def invite(
    conn: Connection,
    email: str,
    account_ids: list[int],
    role: str,
    *,
    actor: str,
    link_hours: int,
    name: str | None = None,
    ip: str | None = None,
) -> tuple[int, str]:
    """Grant *email* the accounts with *role* and issue an invitation link.

    Restores a revoked contact (inviting is an explicit decision). Returns the contact id
    and the link's secret, to be mailed after the transaction commits.
    """
    contact_id = ensure_contact(conn, email, name)
    for account_id in account_ids:
        grant_access(conn, contact_id, account_id, role)
        record(
            conn, actor, "invite", account_id=account_id, record_kind="contact",
            record_id=contact_id, ip=ip, role=role,
        )  # fmt: skip
    token = issue_link(
        conn, "contact", contact_id, normalise_email(email), link_hours * 60,
        purpose="invite", ip=ip,
    )  # fmt: skip
    return contact_id, token


def resend_invitation(
    conn: Connection,
    contact_id: int,
    *,
    actor: str,
    link_hours: int,
    ip: str | None = None,
) -> tuple[str, str]:
    """Issue a fresh invitation link; return (email, secret). Older links stay valid."""
    contact = contact_by_id(conn, contact_id)
    if contact is None:
        raise UsageError(f"there is no contact {contact_id}")
    if not may_sign_in(conn, contact):
        raise UsageError(
            f"{contact['email']} cannot sign in: access was revoked, or none of the "
            "accounts is enabled for the portal"
        )
    token = issue_link(
        conn, "contact", contact_id, contact["email"], link_hours * 60,
        purpose="invite", ip=ip,
    )  # fmt: skip
    record(
        conn, actor, "resend_invite", record_kind="contact", record_id=contact_id, ip=ip
    )
    return contact["email"], token
