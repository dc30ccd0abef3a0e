"""How long each imported text may be, and why: the one table of maxima.

Every imported text field has a maximum, in characters. A longer value rejects its
record (``sync.engine.validate``) naming the column, the limit and what to do, like any other
bad cell; the rest of the file applies. The maxima sit at or above what the billing
systems themselves allow, so no real export reaches them, and low enough that every
page, PDF, ZIP and statement of the stored records renders in moments. Rendering does not
rely on them alone: what was stored before a limit existed is clipped for display
(``clip``), never trusted to be short.

README, "Limits on imported text", shows this table; keep the two in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Limit:
    """The longest value of one field, with the reason for that number."""

    maximum: int
    why: str


_ID = Limit(
    1500,
    "the billing system's id (QuickBooks and Xero ids are under 40 characters), or "
    "the key billfold builds from a customer, a number and a date",
)
_CUSTOMER_KEY = Limit(
    1000,
    "a customer id, or the full Parent:Child:… name of a QuickBooks sub-customer",
)
_NAME = Limit(500, "QuickBooks allows 500 characters in a customer name, Xero 255")

# Field (the generic CSV column name, which rejections use) -> its limit.
LIMITS: dict[str, Limit] = {
    "id": _ID,
    "number": Limit(
        255, "Xero allows 255 characters in a document number, QuickBooks 21"
    ),
    "customer_id": _CUSTOMER_KEY,
    "customer_name": _NAME,
    "customer_email": Limit(254, "the longest address mail can be delivered to"),
    "parent_id": _CUSTOMER_KEY,
    "parent_name": _NAME,
    "reference": Limit(
        255, "Xero allows 255 characters in a reference, QuickBooks 21 in a payment's"
    ),
    "memo": Limit(
        4000, "QuickBooks allows 4,000 characters in a note, 1,000 in a customer memo"
    ),
    "line_description": Limit(
        4000, "QuickBooks and Xero allow 4,000 characters in a line description"
    ),
    "line_item": Limit(
        255, "QuickBooks allows 100 characters in an item name, Xero 30 in an item code"
    ),
    "line_quantity": Limit(50, "a quantity written out; 50 digits hold any real one"),
    "line_unit_price": Limit(50, "a price written out; 50 digits hold any real one"),
    "payment_method": Limit(
        100, "QuickBooks allows 31 characters in a payment method's name"
    ),
    "pay_url": Limit(2048, "the longest link browsers and mail programs handle well"),
    "applies_to": _ID,  # an allocation names an invoice or credit note by id or number
    "file_name": Limit(255, "the longest file name common file systems allow"),
    "terms": Limit(100, "QuickBooks allows 31 characters in a term's name"),
    "attachment_name": Limit(255, "the longest file name common file systems allow"),
}

PREVIEW_CHARACTERS = 60


def is_email_address(text: str) -> bool:
    """Whether *text* (trimmed) is one deliverable address: ``local@domain.tld``, no
    spaces, quotes, brackets or separators (so never a name, a list or markup)."""
    email = text.strip()
    local, _, domain = email.rpartition("@")
    return bool(
        local
        and "." in domain.strip(".")
        and len(email) <= LIMITS["customer_email"].maximum
        and email.isprintable()
        and not any(c.isspace() or c in "<>,;\"'\\()[]:" for c in email)
    )


def clip(text: str | None, maximum: int) -> str:
    """Return *text* cut to *maximum* characters (an ellipsis marks a cut)."""
    if not text:
        return ""
    return text if len(text) <= maximum else text[: maximum - 1] + "…"


def preview(text: str) -> str:
    """Return the start of a long value and its length, for a message about it."""
    if len(text) <= PREVIEW_CHARACTERS:
        return text
    return f"{text[:PREVIEW_CHARACTERS]}… ({len(text):,} characters)"
