"""Outgoing mail: sign-in links, invitations and notices over SMTP.

With no SMTP host configured nothing is sent: the message's link is written to the log
at WARNING (``event=mail.not_sent ... link=...``, shown by ``billfold serve`` and
``billfold demo``) for the operator, which is how a fresh install works before mail is
set up.
Messages are plain text: no tracking, no remote images, nothing a mail client can render
from imported data. A notice (``sync.access.notice_mail``) adds an HTML alternative in
the business's colours, every imported string escaped, files attached, and its
``List-Unsubscribe`` headers.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default
from email.utils import formataddr, make_msgid

from sync.config import Settings
from sync.errors import SyncError
from sync.log import event

_LONG_HEADERS = default.clone(max_line_length=998)  # RFC 5322's hard limit


class MailError(SyncError):
    """The SMTP server refused or could not be reached."""


@dataclass(frozen=True)
class Attached:
    """A file sent with a message."""

    file_name: str
    content_type: str  # "application/pdf"
    data: bytes


@dataclass(frozen=True)
class Message:
    """One email: plain text, optionally an HTML alternative, files and extra headers."""

    to: str
    subject: str
    body: str
    link: str | None = None  # the sign-in link it carries, for the log when unsent
    html: str | None = None  # already escaped by whoever wrote it
    attachments: tuple[Attached, ...] = ()
    # extra headers, e.g. ("List-Unsubscribe", "<https://…>")
    headers: tuple[tuple[str, str], ...] = ()
    message_id: str | None = None  # the same on every attempt (a notice): see send()


def _clean_header(text: str) -> str:
    """Header values never carry line breaks (header injection)."""
    return " ".join(text.replace("\r", " ").replace("\n", " ").split())


def send(settings: Settings, message: Message) -> bool:
    """Send *message*; return False when no SMTP host is configured (it is logged).

    Unsent, a message with a link is one WARNING line the operator can find and pass
    on (``event=mail.not_sent ... link=...``); one without a link is logged whole.
    """
    smtp = settings.smtp
    sender = smtp.from_address or settings.business.email
    if not smtp.host:
        event(
            "mail.not_sent",
            logging.WARNING,
            reason="no smtp.host configured",
            to=message.to,
            subject=message.subject,
            link=message.link,
            body=None if message.link else message.body,
            attachments=", ".join(a.file_name for a in message.attachments) or None,
        )
        return False
    if not sender:
        raise MailError("set smtp.from_address (or business.email) to send mail")
    # A List-Unsubscribe URL must reach the client as written: folded at 78 columns
    # it would become an RFC 2047 encoded word, which no client reads as a URL.
    email = EmailMessage(policy=_LONG_HEADERS if message.headers else default)
    email["From"] = formataddr((_clean_header(settings.business.name), sender))
    email["To"] = _clean_header(message.to)
    email["Subject"] = _clean_header(message.subject)
    domain = sender.rpartition("@")[2] or None
    # A notice keeps one Message-ID on every attempt: should a crash in the middle of
    # an SMTP conversation make it go twice, mail systems can tell it is one message.
    email["Message-ID"] = (
        f"<{message.message_id}@{domain or 'billfold.invalid'}>"
        if message.message_id
        else make_msgid(domain=domain)
    )
    for name, value in message.headers:
        email[name] = _clean_header(value)
    email.set_content(message.body)
    if message.html is not None:
        email.add_alternative(message.html, subtype="html")
    for item in message.attachments:
        maintype, _, subtype = item.content_type.partition("/")
        email.add_attachment(
            item.data, maintype=maintype, subtype=subtype,
            filename=_clean_header(item.file_name),
        )  # fmt: skip
    try:
        if smtp.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                smtp.host,
                smtp.port,
                timeout=smtp.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if smtp.username:
                client.login(smtp.username, smtp.password)
            client.send_message(email)
    except (OSError, smtplib.SMTPException) as exc:
        event("mail.failed", logging.ERROR, to=message.to, error=str(exc))
        raise MailError(
            f"could not send mail to {message.to} via {smtp.host}:{smtp.port}: {exc}"
        ) from exc
    event("mail.sent", to=message.to, subject=message.subject)
    return True


def sign_in_message(
    settings: Settings, to: str, url: str, *, invited: bool = False, admin: bool = False
) -> Message:
    """The email that carries a one-time sign-in link."""
    business = settings.business.name
    # Invitations are issued for invite_link_hours; sign-in links (and a new admin's
    # first link, `billfold admin add`) for link_minutes.
    if invited and not admin:
        lifetime = f"{settings.portal.invite_link_hours} hours"
    else:
        lifetime = f"{settings.portal.link_minutes} minutes"
    if invited and admin:
        subject = f"billfold admin access for {business}"
        opening = (
            f"You can now manage billfold for {business}. No password is needed: use "
            "this link to sign in to the admin portal."
        )
    elif invited:
        subject = f"{business}: your invoices and statements online"
        opening = (
            f"{business} has given you access to your invoices, statements and balances "
            "online. No password is needed: use this link to sign in."
        )
    elif admin:
        subject = f"Your admin sign-in link for {business}"
        opening = (
            f"Here is the link you asked for to sign in to {business}'s billfold admin."
        )
    else:
        subject = f"Your sign-in link for {business}"
        opening = f"Here is the link you asked for to sign in to {business}."
    contact = " or ".join(
        x for x in (settings.business.email, settings.business.phone) if x
    )
    lines = [
        "Hello,",
        "",
        opening,
        "",
        url,
        "",
        f"The link works once and expires in {lifetime}. You can always ask for a "
        f"new one at {settings.base_url.rstrip('/')}/{'admin/' if admin else ''}sign-in.",
        "",
        "If you did not ask for this, you can ignore this email; nobody can sign in "
        "without the link.",
    ]
    if contact:
        lines += ["", f"Questions? Contact {business}: {contact}."]
    return Message(to=to, subject=subject, body="\n".join(lines) + "\n", link=url)


def email_changed_message(settings: Settings, old: str, masked_new: str) -> Message:
    """Tell the old address that a contact's address was changed (ASVS 2.5.5)."""
    business = settings.business.name
    contact = " or ".join(
        x for x in (settings.business.email, settings.business.phone) if x
    )
    lines = [
        "Hello,",
        "",
        f"{business} changed the email address for your access to its billing portal "
        f"from this address to {masked_new}. Sign-in links sent to this address no "
        "longer work, and anyone signed in as you was signed out.",
        "",
        f"If you did not expect this, please contact {business}"
        + (f": {contact}." if contact else "."),
    ]
    return Message(
        to=old,
        subject=f"{business}: your portal email address was changed",
        body="\n".join(lines) + "\n",
    )
