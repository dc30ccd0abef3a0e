"""QuickBooks customer names: ``Parent:Child`` jobs and sub-customers become accounts.

QuickBooks writes a sub-customer (a job or a site) as ``Parent:Child`` (deeper levels
add more colons). billfold keys the account on the full name, shows the last part, and
points it at its parent, so a property manager's contact can see every site. An element
of a plain list of entities is named by the fields only its entity has.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from adapters.toolkit.columns import nfc_key
from schemas.records import AccountRecord


def quickbooks_account(full_name: str, email: str | None = None) -> AccountRecord:
    """Return the account a QuickBooks customer name denotes (with its parent, if any)."""
    key = ":".join(part.strip() for part in nfc_key(full_name).split(":"))
    parent, sep, child = key.rpartition(":")
    if not sep or not parent or not child:
        return AccountRecord(key=key, name=key, email=email or None)
    return AccountRecord(
        key=key,
        name=child,
        email=email or None,
        parent_key=parent,
        parent_name=parent.rpartition(":")[2],
    )


def quickbooks_ancestors(account: AccountRecord) -> Iterator[AccountRecord]:
    """Yield the accounts above *account*, nearest first, for names with several levels."""
    key = account.parent_key
    while key:
        parent = quickbooks_account(key)
        yield parent
        key = parent.parent_key


def classify_entity(value: Any) -> str:
    """Tell which entity an element of a plain list is, from fields only it has."""
    if not isinstance(value, dict) or "SyncToken" not in value:
        return "?"
    if "RemainingCredit" in value:
        return "CreditMemo"
    if "UnappliedAmt" in value:
        return "Payment"
    if "DisplayName" in value and "TotalAmt" not in value:
        return "Customer"
    if "AttachableRef" in value or "FileName" in value:
        return "Attachable"
    if "DueDays" in value or "DayOfMonthDue" in value:
        return "Term"
    if "Name" in value and value.get("Type") in ("CREDIT_CARD", "NON_CREDIT_CARD"):
        return "PaymentMethod"
    others = ("DepositToAccountRef", "TxnStatus", "ExpirationDate", "PaymentMethodRef")
    if {"TotalAmt", "Balance", "DueDate", "CustomerRef"} <= value.keys() and not any(
        k in value for k in others
    ):
        return "Invoice"
    return "?"
