"""A planned notice written out as an email, when the outbox sends it.

Composed at send time from the ``notice`` row and what the contact may see *then*
(``sync.access.scope``, the portal's own read model): a contact revoked, a notice
turned off, an account no longer granted, or a digest whose records all went hidden
(draft, deleted) gives a reason to drop the mail instead. Every imported string
(account names, invoice numbers, file names) is escaped in the HTML part and freed of
line breaks in headers; the mail speaks in the business's name and colour and carries
an unsubscribe link that needs no sign-in plus ``List-Unsubscribe`` (RFC 2369) and
``List-Unsubscribe-Post`` (RFC 8058, one click).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Any

from sqlalchemy import Connection, select

from schemas.money import format_money
from schemas.settlement import HIDDEN_LIFECYCLES
from schemas.tables import (
    ACCOUNTS,
    DOCUMENTS,
    INVOICES,
    NOTICE_ITEMS,
    NOTICE_SUBSCRIPTIONS,
    NOTICES,
    utcnow,
)
from sync.access.contacts import contact_by_id
from sync.access.mail import Attached, Message
from sync.access.notices import (
    KIND_LABELS,
    allowed_kinds,
    digest_scope,
    unsubscribe_url,
)
from sync.access.scope import scope_for
from sync.config import Settings
from sync.ledger.pdf import statement_pdf
from sync.ledger.statement import build_statement

N = NOTICES
NI = NOTICE_ITEMS
S = NOTICE_SUBSCRIPTIONS
A = ACCOUNTS
I = INVOICES  # noqa: E741
D = DOCUMENTS
HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}")


@dataclass(frozen=True)
class _Part:
    """A paragraph of the mail: the same words as text and as (escaped) HTML."""

    text: str
    html: str


def _plain(value: str | None) -> str:
    """Imported text for the plain part: one line, no control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in value or "").split())


def _para(text: str) -> _Part:
    return _Part(text, f"<p>{escape(text)}</p>")


def _link(label: str, url: str) -> _Part:
    return _Part(
        f"{label}: {url}", f'<p><a href="{escape(url)}">{escape(label)}</a></p>'
    )


def _list(rows: list[tuple[str, str]]) -> _Part:
    """Rows of (words, url), as lines of text and an HTML list."""
    text = "\n".join(f"- {words}\n  {url}" for words, url in rows)
    items = "".join(
        f'<li><a href="{escape(url)}">{escape(words)}</a></li>' for words, url in rows
    )
    return _Part(text, f"<ul>{items}</ul>")


def _message(
    settings: Settings,
    notice_id: int,
    to: str,
    subject: str,
    parts: list[_Part],
    unsubscribe: str,
    label: str,
    attachments: tuple[Attached, ...] = (),
) -> Message:
    """The mail: text and HTML from the same parts, the business's name and colour,
    the unsubscribe link in the footer and in the List-Unsubscribe headers."""
    business = settings.business
    base = settings.base_url.rstrip("/")
    footer = [
        _para(
            f"You get this email because you asked {business.name} for: {label}. "
            "Turn it off with one click, no sign-in needed:"
        ),
        _link("Unsubscribe", unsubscribe),
        _link("Choose your email notices", f"{base}/notices"),
    ]
    contact = " or ".join(x for x in (business.email, business.phone) if x)
    if contact:
        footer.append(_para(f"Questions? Contact {business.name}: {contact}."))
    text = "\n\n".join(p.text for p in [*parts, *footer]) + "\n"
    colour = business.colour if HEX_COLOUR.fullmatch(business.colour) else "#1f4e79"
    html = (
        '<!doctype html><html><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>"
        '<body style="font-family:sans-serif;color:#111;max-width:40em">'
        f'<div style="border-top:6px solid {colour};padding-top:8px">'
        f'<p style="font-size:1.2em;font-weight:bold">{escape(business.name)}</p>'
        + "".join(p.html for p in parts)
        + '<hr><div style="font-size:0.9em;color:#444">'
        + "".join(p.html for p in footer)
        + "</div></div></body></html>"
    )
    return Message(
        to=to,
        subject=subject,
        body=text,
        html=html,
        attachments=attachments,
        message_id=f"billfold-notice-{notice_id}",
        headers=(
            ("List-Unsubscribe", f"<{unsubscribe}>"),
            ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),
        ),
    )


def compose(conn: Connection, settings: Settings, notice_id: int) -> Message | str:
    """The mail of notice *notice_id*, or why it is not sent (the outbox drops it)."""
    notice = conn.execute(select(N).where(N.c.id == notice_id)).one()
    contact = contact_by_id(conn, notice.contact_id)
    if contact is None or contact["revoked_at"] is not None:
        return "the contact's access ended before the notice was sent"
    wanted = select(S.c.id).where(
        S.c.contact_id == notice.contact_id, S.c.kind == notice.kind
    )
    if notice.account_id is not None:
        wanted = wanted.where(S.c.account_id == notice.account_id)
    if conn.execute(wanted).first() is None:
        return "the contact turned this notice off before it was sent"
    if notice.kind == "statement":
        return _statement(conn, settings, notice, contact)
    return _digest(conn, settings, notice, contact)


def _statement(
    conn: Connection, settings: Settings, notice: Any, contact: dict
) -> Message | str:
    account_id: int = notice.account_id
    start: date = notice.period_start
    end: date = notice.period_end
    scope = scope_for(conn, contact["id"], None)
    if "statement" not in allowed_kinds(scope, account_id):
        return "the account is no longer granted to the contact with the billing role"
    # The same statement the portal's Statements page gives this contact.
    statement = build_statement(conn, account_id, start, end, visible=scope.billing_ids)
    business = settings.business
    pdf = statement_pdf(statement, business, utcnow().date())
    month = f"{start:%B %Y}"
    name = _plain(statement.account)
    base = settings.base_url.rstrip("/")
    parts = [
        _para(f"Hello {_plain(contact.get('name')) or ''}".rstrip() + ","),
        _para(f"Your statement for {name} for {month} is attached as a PDF."),
    ]
    for currency, totals in sorted(statement.totals().items()):
        closing = format_money(totals["closing"], currency, locale=business.locale)
        parts.append(_para(f"Balance on {end:%d %b %Y}: {closing}"))
    parts.append(
        _link(
            "See it online",
            f"{base}/statements?account={account_id}&from={start.isoformat()}"
            f"&to={end.isoformat()}",
        )
    )
    unsubscribe = unsubscribe_url(settings, contact["id"], "statement")
    return _message(
        settings, notice.id, contact["email"],
        f"{business.name}: your statement for {month}",
        parts, unsubscribe, f"{KIND_LABELS['statement']} of {name}",
        (Attached(f"statement-{start:%Y-%m}.pdf", "application/pdf", pdf),),
    )  # fmt: skip


def _digest(
    conn: Connection, settings: Settings, notice: Any, contact: dict
) -> Message | str:
    notice_id: int = notice.id
    scope = digest_scope(conn, contact["id"])
    planned = select(NI.c.record_id).where(NI.c.notice_id == notice_id)
    base = settings.base_url.rstrip("/")
    locale = settings.business.locale
    invoices = conn.execute(
        select(I, A.c.name.label("account_name"))
        .join(A, A.c.id == I.c.account_id)
        .where(
            I.c.id.in_(planned.where(NI.c.record_kind == "invoice")),
            scope.where(I),
            I.c.lifecycle.not_in(HIDDEN_LIFECYCLES),
        )
        .order_by(I.c.issue_date, I.c.id)
    ).all()
    documents = conn.execute(
        select(D, A.c.name.label("account_name"))
        .join(A, A.c.id == D.c.account_id)
        .where(
            D.c.id.in_(planned.where(NI.c.record_kind == "document")),
            scope.documents_where(),
        )
        .order_by(D.c.created_at, D.c.id)
    ).all()
    if not invoices and not documents:
        return "nothing the digest listed is still visible to the contact"
    parts = [
        _para(f"Hello {_plain(contact.get('name')) or ''}".rstrip() + ","),
        _para(f"Here is what is new in your account with {settings.business.name}."),
    ]
    if invoices:
        parts.append(_para(f"New invoices ({len(invoices)}):"))
        parts.append(
            _list(
                [
                    (
                        f"Invoice {_plain(r.number)}, {_plain(r.account_name)}"
                        + (f", dated {r.issue_date:%d %b %Y}" if r.issue_date else "")
                        + f": {format_money(r.total_minor, r.currency, locale=locale)}",
                        f"{base}/invoices/{r.id}",
                    )
                    for r in invoices
                ]
            )
        )
    if documents:
        parts.append(_para(f"New documents ({len(documents)}):"))
        parts.append(
            _list(
                [
                    (
                        f"{_plain(r.file_name)}, {_plain(r.account_name)}",
                        f"{base}/documents/{r.id}",
                    )
                    for r in documents
                ]
            )
        )
    unsubscribe = unsubscribe_url(settings, contact["id"], "digest")
    count = len(invoices) + len(documents)
    return _message(
        settings, notice_id, contact["email"],
        f"{settings.business.name}: {count} new {'item' if count == 1 else 'items'} "
        "in your account",
        parts, unsubscribe, KIND_LABELS["digest"],
    )  # fmt: skip
