"""Customer ids: which cells really name a customer, and the key an account is stored by.

An export's customer-id column is only an identity when it holds a real id. Spreadsheets
and billing tools fill the gaps with words that mean "no id" (``null``, ``N/A``,
``#N/A``, ``-``, ``0``, the all-zero GUID); taken as an id, such a word would make every
customer without an id one account, and anyone invited to it would see them all. Every
adapter that reads a customer id asks ``real_id``; a placeholder counts as missing, and
the account falls back to the customer's name (``nfc_key``: Unicode NFC, outer spaces
removed), exactly as for an export without ids.

A document from an export that carries no ids at all (QuickBooks reports) is identified
by ``document_key``: its type, number and customer, since QuickBooks lets two customers'
invoices share a number.
"""

from __future__ import annotations

import json
import re

from adapters.toolkit.columns import nfc_key

# Compared case-insensitively after outer spaces, quotes and brackets are removed.
PLACEHOLDER_WORDS = frozenset(
    (
        "null", "none", "nil", "na", "n/a", "n.a.", "n.a", "nan", "nat", "undefined",
        "unknown", "missing", "blank", "empty", "no id", "noid", "not set", "notset",
        "not applicable", "tbd", "tba",
        # spreadsheet errors: a formula that found nothing
        "#n/a", "#na", "#null!", "#ref!", "#value!", "#name?", "#div/0!", "#num!",
        "#n/a n/a",
    )
)  # fmt: skip
# Nothing but zeros, dashes, dots, underscores, question marks or spaces: "0", "-",
# "--", "0000", "?", the all-zero GUID 00000000-0000-0000-0000-000000000000.
_FILLER = re.compile(r"^[0\-._?\s\u2012\u2013\u2014\u2212]*$")
_WRAPPERS = "()[]{}<>\"'"


def is_placeholder_id(text: str | None) -> bool:
    """True when *text* is blank or a word that stands for "no id" (see module doc)."""
    if text is None:
        return True
    value = nfc_key(text).casefold()
    while value[:1] and value[:1] in _WRAPPERS and value[-1:] in _WRAPPERS:
        value = value[1:-1].strip()
    return value in PLACEHOLDER_WORDS or bool(_FILLER.match(value))


def real_id(text: str | None) -> str:
    """Return *text* as an id key (NFC, trimmed), or "" when it is a placeholder."""
    if text is None or is_placeholder_id(text):
        return ""
    return nfc_key(text)


def document_key(kind: str, number: str, customer_key: str) -> str:
    """Return the identity of a document an export gives no id: type, number, customer.

    Written as a JSON list (``["Invoice","1001","Bayview Café"]``) so that no number or
    customer name, whatever characters it holds, can make two documents one.
    """
    return json.dumps(
        [kind, number, customer_key], ensure_ascii=False, separators=(",", ":")
    )
