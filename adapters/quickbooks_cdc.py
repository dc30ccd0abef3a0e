"""QuickBooks Online change data capture answers (``/cdc``), read like a query answer.

A CDC answer groups what changed since a time by entity::

    {"CDCResponse": [{"QueryResponse": [{"Invoice": [...], "startPosition": 1, ...},
                                        {"Payment": [...]}]}],
     "time": "2026-03-02T09:15:00-08:00"}

Created and updated entities come whole and are read by ``adapters.quickbooks_api`` as
in any query. A deleted one is a stub (``{"status": "Deleted", "domain": "QBO", "Id":
"148", "MetaData": {...}}``): no amounts, no customer. It becomes a ``Deletion``, and the
store marks its copy deleted as when Xero sends a DELETED record. Entities billfold does
not read are counted and named, never parsed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from adapters.errors import CellError
from adapters.toolkit.cells import parse_timestamp
from schemas.records import Deletion, Item, Note

ENVELOPE = "CDCResponse.item.QueryResponse.item"
KEY_PREFIX = ENVELOPE + ".{}"  # what ``iter_items`` yields for each key of a group
_GROUP_FIELDS = frozenset(("startPosition", "maxResults", "totalCount"))
# The canonical kind of each entity a deletion can name, and the external id it had.
# A sales receipt is an invoice and the payment that paid it (adapters.quickbooks_receipts).
_KINDS = {
    "Invoice": (("invoice",), "invoice", ""),
    "CreditMemo": (("credit_note",), "credit note", ""),
    "Payment": (("payment",), "payment", ""),
    "SalesReceipt": (("invoice", "payment"), "sales receipt", "SalesReceipt "),
    "RefundReceipt": (("credit_note",), "refund receipt", "RefundReceipt "),
}


def cdc_prefixes(entities: Iterable[str]) -> dict[str, str]:
    """Map the ijson prefix of each entity's elements in a CDC answer to the entity."""
    return {f"{ENVELOPE}.{entity}.item": entity for entity in entities}


def claims(keys: dict[str, set[str]]) -> bool:
    """True when a JSON head's keys are those of a CDC answer."""
    inside = keys.get("CDCResponse.item", set())
    return "QueryResponse" in inside or (not inside and "time" in keys.get("", set()))


def is_deleted(value: Any) -> bool:
    """True for a deleted entity's stub (it carries only Id, MetaData and status)."""
    return isinstance(value, dict) and value.get("status") == "Deleted"


class ChangeReport:
    """What a CDC answer held besides records: deletions and unknown entities."""

    def __init__(self, known: Iterable[str]) -> None:
        self.known = frozenset((*known, *_GROUP_FIELDS))
        self.unknown: dict[str, int] = {}  # entity -> groups holding it
        self.deleted_elsewhere: dict[str, int] = {}  # deleted Customers, lookups...
        self.unnamed = 0  # deleted stubs without an Id

    def saw_group_key(self, key: Any) -> None:
        """Note a key of one QueryResponse group; an entity billfold does not know is
        reported at the end instead of being read."""
        name = str(key)
        if name not in self.known:
            self.unknown[name] = self.unknown.get(name, 0) + 1

    def deletion(self, entity: str, value: dict[str, Any]) -> Iterator[Item]:
        """Turn a deleted stub into a ``Deletion`` (or a count, for what has no copy)."""
        ident = value.get("Id")
        ident_text = str(ident).strip() if isinstance(ident, str | int) else ""
        if entity not in _KINDS:
            self.deleted_elsewhere[entity] = self.deleted_elsewhere.get(entity, 0) + 1
            return
        if not ident_text:
            self.unnamed += 1
            return
        kinds, title, key_prefix = _KINDS[entity]
        updated = None
        meta = value.get("MetaData")
        moment = meta.get("LastUpdatedTime") if isinstance(meta, dict) else None
        if isinstance(moment, str):
            try:
                updated = parse_timestamp(moment)
            except CellError:
                yield Note(
                    f"the deleted {title} with Id {ident_text[:40]} has an unreadable "
                    "MetaData.LastUpdatedTime; its deletion is dated by the answer's time"
                )
        for kind in kinds:
            yield Deletion(
                kind=kind,  # type: ignore[arg-type]  # one of Deletion's kinds, above
                external_id=key_prefix + ident_text,
                label=f"{title} with Id {ident_text}",
                updated_at=updated,
            )

    def notes(self) -> Iterator[Note]:
        for name in sorted(self.unknown):
            shown = name if len(name) <= 60 else name[:57] + "..."
            yield Note(
                f"the change data capture answer holds {shown!r}, which is not a "
                "QuickBooks entity billfold reads; it was skipped (billfold imports "
                "Customer, Invoice, CreditMemo, Payment, SalesReceipt and RefundReceipt)"
            )
        for entity, n in sorted(self.deleted_elsewhere.items()):
            yield Note(
                f"{n} deleted {entity} entit{'y' if n == 1 else 'ies'} skipped: billfold "
                "keeps no copy of them to delete"
            )
        if self.unnamed:
            yield Note(
                f"{self.unnamed} deleted entit{'y' if self.unnamed == 1 else 'ies'} "
                "without an Id skipped: nothing says which record was deleted"
            )
