"""Audit events in words: a short label per action (the filter menu, the Action column)
and one sentence per event an office manager understands, with names instead of ids and
money with its currency. Never "None", JSON or a Python repr: a value the event did not
record is left out of the sentence.

The sentences are plain text; the template escapes them like any other imported string
(a file name or an address may hold markup).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection

from portal.admin.queries.accounts import AccountTree
from portal.admin.queries.audit import Mentions, detail_of, mentions
from portal.context import portal
from schemas.money import format_money

LABELS = {
    "account_confirmed": "Confirmed one customer",
    "admin_add": "Added an admin",
    "admin_remove": "Removed an admin",
    "bulk_invite": "Invited from a CSV",
    "change_email": "Changed an address",
    "claim_paid": "Said they paid",
    "confirm_claim": "Confirmed a payment",
    "discard_import": "Discarded an import",
    "download_document": "Downloaded a document",
    "download_invoice_pdf": "Downloaded an invoice PDF",
    "download_invoices_zip": "Downloaded invoices (ZIP)",
    "download_original": "Downloaded an original file",
    "download_statement": "Downloaded a statement",
    "export_audit_csv": "Downloaded the audit log",
    "export_invoices_csv": "Downloaded the invoice list",
    "grant_added": "Gave access",
    "grant_removed": "Took access away",
    "invite": "Invited",
    "link_document": "Filed a document",
    "login_link": "Made a sign-in link",
    "mark_confirmed": "Paid mark confirmed",
    "mark_paid": "Marked paid",
    "portal_disabled": "Turned the portal off",
    "portal_enabled": "Turned the portal on",
    "preview": "Started a preview",
    "connection_connected": "Connected a billing system",
    "connection_disconnected": "Disconnected a billing system",
    "connection_reconnected": "Reconnected a billing system",
    "connection_started": "Began connecting a billing system",
    "notice_off": "Stopped email notices",
    "notice_on": "Started email notices",
    "preview_end": "Ended a preview",
    "pull_asked": "Asked for a pull",
    "preview_view": "Looked in a preview",
    "publish_import": "Published an import",
    "reject_claim": "Turned down a payment",
    "resend_invite": "Resent an invitation",
    "resolve_conflict": "Settled a conflict",
    "revoke": "Revoked access",
    "sign_in": "Signed in",
    "sign_in_link_sent": "Asked for a sign-in link",
    "sign_out": "Signed out",
    "undo_mark": "Undid a paid mark",
    "upload_import": "Uploaded a file",
    "view_credit_note": "Viewed a credit note",
    "view_invoice": "Viewed an invoice",
    "view_payment": "Viewed a payment",
}
ROLES = {
    "billing": "the billing role (amounts and statements)",
    "documents": "the documents role (no amounts)",
}
RESOLUTIONS = {
    "acknowledge": "noted that the billing system voided it",
    "keep_mark": "kept the office's paid mark",
    "accept_feed": "accepted what the billing system says",
}
BATCH_STATUSES = {
    "applied": "imported",
    "staged": "waiting for review",
    "duplicate": "a repeat of an earlier file, nothing changed",
    "rejected": "rejected as a whole",
    "failed": "not finished (billfold failed)",
}
FILTER_NAMES = {
    "account": "account",
    "account_id": "account",
    "person": "person",
    "contact_id": "contact",
    "record_kind": "record",
    "record_id": "record id",
    "action": "action",
    "from": "from",
    "to": "to",
    "sites": "sites",
}


def label(action: str) -> str:
    """The short name of *action* (unknown actions: their words, capitalised)."""
    return LABELS.get(action) or action.replace("_", " ").capitalize()


@dataclass
class Wording:
    """What a page's sentences need: the names it read once, and how money is shown."""

    found: Mentions
    tree: AccountTree
    locale: str

    def account(self, account_id: Any) -> str:
        """``Parent › Site`` for a known account, else a plain "an account"."""
        if isinstance(account_id, int) and account_id in self.tree.nodes:
            return self.tree.label(account_id)
        return "an account no longer in billfold"

    def contact(self, contact_id: Any) -> str:
        """A contact's address."""
        return self.found.contacts.get(contact_id, "a contact since deleted")

    def invoice(self, invoice_id: Any) -> str:
        """``invoice N-100``."""
        row = self.found.invoices.get(invoice_id)
        return f"invoice {row.number}" if row else "an invoice no longer in billfold"

    def credit_note(self, credit_note_id: Any) -> str:
        """``credit note CN-7``."""
        row = self.found.credit_notes.get(credit_note_id)
        return f"credit note {row.number}" if row else "a credit note no longer here"

    def batch(self, batch_id: Any) -> str:
        """``import of invoices.csv``."""
        row = self.found.batches.get(batch_id)
        return f"the import of {row.file_name}" if row else "an import"

    def money_on_invoice(self, minor: Any, invoice_id: Any) -> str:
        """An amount in the invoice's currency ("" when either is unknown)."""
        row = self.found.invoices.get(invoice_id)
        if row is None or not isinstance(minor, int):
            return ""
        return format_money(minor, row.currency, locale=self.locale)

    def sentence(self, event: Any) -> str:
        """What *event* did, in one sentence."""
        write = SENTENCES.get(event.action)
        detail = detail_of(event)
        if write is None:
            return plain(detail)
        return write(self, event, detail)


def wording_for(
    conn: Connection, rows: Any, tree: AccountTree, contacts: Sequence[int] = ()
) -> Wording:
    """The words for audit events *rows* (their records named in one read per kind),
    and for the *contacts* the page names besides."""
    found = mentions(conn, rows, contacts)
    return Wording(found, tree, portal().settings.business.locale)


def day(value: Any) -> str:
    """An ISO date (as the detail keeps it) as ``3 Mar 2026``; anything else as is."""
    try:
        return f"{date.fromisoformat(str(value)[:10]):%d %b %Y}"
    except ValueError:
        return str(value)


def plain(detail: dict[str, Any]) -> str:
    """Details of an event billfold has no sentence for, as ``key: value`` text."""
    parts = []
    for key, value in detail.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v is not None)
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        parts.append(f"{key.replace('_', ' ')}: {value}")
    return "; ".join(parts)


def _count(d: dict[str, Any], key: str) -> int:
    value = d.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _source(d: dict[str, Any]) -> str:
    return f"the source {d.get('source') or 'since removed'}"


_NOTICES = {"statement": "the monthly statement", "digest": "the digest of new items"}


def _who(w: Wording, e: Any) -> str:
    return w.contact(e.record_id)


def _mark_paid(w: Wording, e: Any, d: dict[str, Any]) -> str:
    amount = w.money_on_invoice(d.get("amount"), e.record_id)
    text = f"Marked {w.invoice(e.record_id)} paid"
    if amount:
        text += f": {amount} settled"
    if d.get("paid_on"):
        text += f" on {day(d['paid_on'])}"
    if d.get("method"):
        text += f" by {d['method']}"
    if d.get("reference"):
        text += f", reference {d['reference']}"
    return text + "."


def _claim(w: Wording, e: Any, d: dict[str, Any]) -> str:
    amount = w.money_on_invoice(d.get("amount"), e.record_id)
    paid = f" {amount}" if amount else ""
    return f"Said they paid{paid} on {w.invoice(e.record_id)}; waiting for the office."


def _statement(w: Wording, e: Any, d: dict[str, Any]) -> str:
    fmt = str(d.get("format") or "").upper()
    text = f"Downloaded a statement{f' ({fmt})' if fmt else ''}"
    if e.account_id is not None:
        text += f" for {w.account(e.account_id)}"
    if d.get("start") and d.get("end"):
        text += f", {day(d['start'])} to {day(d['end'])}"
    return text + "."


def _zip(w: Wording, e: Any, d: dict[str, Any]) -> str:
    ids = [i for i in d.get("invoices") or [] if isinstance(i, int)]
    count = _count(d, "count") or len(ids)
    numbers = [w.found.invoices[i].number for i in ids[:10] if i in w.found.invoices]
    text = f"Downloaded {count} invoice PDF{'' if count == 1 else 's'} in one ZIP"
    if numbers:
        more = f" and {len(ids) - len(numbers)} more" if len(ids) > len(numbers) else ""
        text += f": {', '.join(numbers)}{more}"
    return text + "."


def _link(w: Wording, e: Any, d: dict[str, Any]) -> str:
    name = w.found.documents.get(e.record_id, "a document")
    kind = str(d.get("kind") or "document").replace("_", " ")
    if d.get("invoice_id") is not None:
        where = w.invoice(d["invoice_id"])
    elif d.get("credit_note_id") is not None:
        where = w.credit_note(d["credit_note_id"])
    else:
        where = w.account(e.account_id)
    return f"Filed {name} as a {kind} under {where}."


def _payment(w: Wording, e: Any, d: dict[str, Any]) -> str:
    row = w.found.payments.get(e.record_id)
    if row is None:
        return "Viewed the receipt of a payment no longer in billfold."
    amount = format_money(row.amount_minor, row.currency, locale=w.locale)
    on = f" received {row.received_on:%d %b %Y}" if row.received_on else ""
    return f"Viewed the receipt of a payment of {amount}{on}."


def _upload(w: Wording, e: Any, d: dict[str, Any]) -> str:
    status = BATCH_STATUSES.get(str(d.get("status")), str(d.get("status") or ""))
    text = f"Uploaded {d.get('file') or 'a file'}"
    if d.get("source"):
        text += f" into source {d['source']}"
    return text + (f": {status}." if status else ".")


def _audit_csv(w: Wording, e: Any, d: dict[str, Any]) -> str:
    count = _count(d, "count")
    text = (
        f"Downloaded the audit log as CSV ({count:,} event{'' if count == 1 else 's'})"
    )
    given = d.get("filters")
    filters: dict[str, Any] = given if isinstance(given, dict) else {}
    shown = [
        f"{FILTER_NAMES.get(k, k)} {w.account(v) if k == 'account_id' else v}"
        for k, v in filters.items()
        if v not in (None, "") and k != "sites"
    ]
    return text + (f", filtered by {'; '.join(shown)}." if shown else ".")


def _bulk(w: Wording, e: Any, d: dict[str, Any]) -> str:
    refused = _count(d, "rejected")
    return (
        f"Invited contacts from a CSV: {_count(d, 'invited')} invited, "
        f"{_count(d, 'already')} could already see their account, "
        f"{refused} row{'' if refused == 1 else 's'} refused."
    )


def _preview_view(w: Wording, e: Any, d: dict[str, Any]) -> str:
    viewed = str(d.get("viewed") or "")
    inner = SENTENCES.get(viewed)
    what = inner(w, e, d) if inner else label(viewed) + "."
    what = what[0].lower() + what[1:] if what else what
    return f"While previewing as {w.contact(d.get('contact'))}: {what}"


def _names(d: dict[str, Any]) -> str:
    names = d.get("names")
    if isinstance(names, list) and names:
        return ", ".join(f"“{n}”" for n in names)
    return "its names"


Sentence = Callable[[Wording, Any, dict[str, Any]], str]
SENTENCES: dict[str, Sentence] = {
    "account_confirmed": lambda w, e, d: (
        f"Confirmed that {_names(d)} are one customer: {w.account(e.account_id)}."
    ),
    "admin_add": lambda w, e, d: (
        f"Made {w.found.admins.get(e.record_id, 'someone')} an admin."
    ),
    "admin_remove": lambda w, e, d: (
        f"Removed {w.found.admins.get(e.record_id, 'an admin')} from the admins."
    ),
    "bulk_invite": _bulk,
    "change_email": lambda w, e, d: (
        f"Changed a contact's address from {d.get('old') or 'their old address'} "
        f"to {d.get('new') or w.contact(e.record_id)}; the old address was told."
    ),
    "claim_paid": _claim,
    "confirm_claim": lambda w, e, d: (
        f"Confirmed the customer's payment on {w.invoice(e.record_id)} and marked it "
        "paid."
    ),
    "discard_import": lambda w, e, d: (
        f"Discarded {w.batch(e.record_id)}: nothing from it reached the portal."
    ),
    "download_document": lambda w, e, d: (
        f"Downloaded {w.found.documents.get(e.record_id, 'a document')}."
    ),
    "download_invoice_pdf": lambda w, e, d: (
        f"Downloaded the PDF of {w.invoice(e.record_id)}."
    ),
    "download_invoices_zip": _zip,
    "download_original": lambda w, e, d: (
        f"Downloaded the original file of {w.batch(e.record_id)}."
    ),
    "download_statement": _statement,
    "export_audit_csv": _audit_csv,
    "export_invoices_csv": lambda w, e, d: (
        f"Downloaded their invoice list as CSV ({_count(d, 'count')} "
        f"invoice{'' if _count(d, 'count') == 1 else 's'})."
    ),
    "grant_added": lambda w, e, d: (
        f"Gave {_who(w, e)} access to {w.account(e.account_id)} with "
        f"{ROLES.get(str(d.get('role')), 'a role')}."
    ),
    "grant_removed": lambda w, e, d: (
        f"Took {w.account(e.account_id)} away from {_who(w, e)}."
    ),
    "invite": lambda w, e, d: (
        f"Invited {_who(w, e)} to {w.account(e.account_id)} with "
        f"{ROLES.get(str(d.get('role')), 'a role')}."
    ),
    "link_document": _link,
    "login_link": lambda w, e, d: (
        f"Made a one-time sign-in link for {_who(w, e)} (billfold login-link)."
    ),
    "mark_confirmed": lambda w, e, d: (
        f"The billing system now shows {w.invoice(e.record_id)} paid, as the office "
        "had marked it."
    ),
    "mark_paid": _mark_paid,
    "portal_disabled": lambda w, e, d: (
        f"Turned the portal off for {w.account(e.account_id)}."
    ),
    "portal_enabled": lambda w, e, d: (
        f"Turned the portal on for {w.account(e.account_id)} and its sites."
    ),
    "preview": lambda w, e, d: f"Started seeing the portal as {_who(w, e)} sees it.",
    "preview_end": lambda w, e, d: f"Stopped previewing as {_who(w, e)}.",
    "preview_view": _preview_view,
    "connection_connected": lambda w, e, d: (
        f"Connected {_source(d)}: it is read on its schedule from now on."
    ),
    "connection_disconnected": lambda w, e, d: (
        f"Disconnected {_source(d)}: nothing is read from it until it is connected again."
    ),
    "connection_reconnected": lambda w, e, d: (
        f"Reconnected {_source(d)}: it is read again at its next pull."
    ),
    "connection_started": lambda w, e, d: (
        f"Went to the billing system's consent page to connect {_source(d)}."
    ),
    "pull_asked": lambda w, e, d: f"Asked for {_source(d)} to be read now.",
    "notice_off": lambda w, e, d: (
        f"{_who(w, e)} will no longer get {_NOTICES.get(str(d.get('notice')), 'notices')}"
        f" for {w.account(e.account_id)}"
        + (" (they unsubscribed from the email)." if d.get("unsubscribed") else ".")
    ),
    "notice_on": lambda w, e, d: (
        f"{_who(w, e)} will get {_NOTICES.get(str(d.get('notice')), 'notices')} for "
        f"{w.account(e.account_id)}."
    ),
    "publish_import": lambda w, e, d: (
        f"Published {w.batch(e.record_id)}: customers see it from now on."
    ),
    "reject_claim": lambda w, e, d: (
        f"Turned down the customer's payment on {w.invoice(e.record_id)}: it stays "
        "unpaid."
    ),
    "resend_invite": lambda w, e, d: f"Sent {_who(w, e)} a new invitation link.",
    "resolve_conflict": lambda w, e, d: (
        f"Settled a conflict on {w.invoice(e.record_id)}: "
        f"{RESOLUTIONS.get(str(d.get('resolution')), 'resolved')}."
    ),
    "revoke": lambda w, e, d: (
        f"Revoked {_who(w, e)}'s access: signed out everywhere, unused links stopped "
        "working."
    ),
    "sign_in": lambda w, e, d: "Signed in.",
    "sign_in_link_sent": lambda w, e, d: "A sign-in link was emailed to them.",
    "sign_out": lambda w, e, d: "Signed out.",
    "undo_mark": lambda w, e, d: f"Undid the paid mark on {w.invoice(e.record_id)}.",
    "upload_import": _upload,
    "view_credit_note": lambda w, e, d: f"Viewed {w.credit_note(e.record_id)}.",
    "view_invoice": lambda w, e, d: f"Viewed {w.invoice(e.record_id)}.",
    "view_payment": _payment,
}
