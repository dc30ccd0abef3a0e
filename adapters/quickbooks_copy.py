"""What a QuickBooks Online invoice copy shows beside its figures (FORMATS.md section 5).

The PO or reference a custom field holds, lines in their kinds (items, subtotals,
discounts), how line amounts stand to tax
(``GlobalTaxCalculation``), the exchange rate of a foreign-currency document, and the
files attached to a transaction (``Attachable`` entities). None of it changes a figure:
``TotalAmt`` stays the total, and a subtotal or discount line is never added to it.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from adapters.errors import CellError
from adapters.toolkit.columns import normalise_header
from adapters.toolkit.json_fields import Fields
from schemas.records import (
    AttachmentRecord,
    DocumentKind,
    LineKind,
    LineRecord,
    Note,
    TaxMode,
)

TAX_MODES: dict[str, TaxMode] = {
    "TaxExcluded": "exclusive",
    "TaxInclusive": "inclusive",
    "NotApplicable": "no_tax",
}
# CustomField names that hold the customer's PO or reference (compared normalised).
REFERENCE_FIELDS = frozenset(
    ("po", "pono", "ponumber", "ponum", "purchaseorder", "purchaseordernumber",
     "customerpo", "reference", "ref", "customerreference")
)  # fmt: skip
# Attachable links to these transactions become attachments of a stored document.
ATTACHED_TO: dict[str, DocumentKind] = {
    "Invoice": "invoice",
    "CreditMemo": "credit_note",
}


def lines(f: Fields) -> list[LineRecord]:
    """Return a document's lines for its copy, subtotal and discount lines included.

    A discount line's amount is stored negative (what it takes off); QuickBooks writes
    it positive. Lines are informational: the document's total is its ``TotalAmt``.
    """
    found: list[LineRecord] = []
    for lf in f.objects("Line"):
        detail = lf.text("DetailType")
        item = quantity = unit_price = None
        description = lf.text("Description") or ""
        amount = lf.amount("Amount")
        kind: LineKind = "item"
        if detail == "SalesItemLineDetail":
            item = lf.text("SalesItemLineDetail.ItemRef.name")
            quantity = lf.quantity("SalesItemLineDetail.Qty")
            unit_price = lf.quantity("SalesItemLineDetail.UnitPrice")
        elif detail == "GroupLineDetail":
            item = lf.text("GroupLineDetail.GroupItemRef.name")
            quantity = lf.quantity("GroupLineDetail.Quantity")
        elif detail == "SubTotalLineDetail":
            kind, description = "subtotal", description or "Subtotal"
        elif detail == "DiscountLineDetail":
            kind = "discount"
            amount = None if amount is None else -abs(amount)
            if not description:
                percent = (
                    lf.quantity("DiscountLineDetail.DiscountPercent")
                    if lf.raw("DiscountLineDetail.PercentBased") is True
                    else None
                )
                description = (
                    f"Discount {percent.normalize():f}%" if percent else "Discount"
                )
        found.append(
            LineRecord(
                position=len(found) + 1,
                kind=kind,
                description=description,
                item=item,
                quantity=quantity,
                unit_price=unit_price,
                amount=amount,
            )
        )
    return found


def reference(f: Fields) -> str | None:
    """Return the PO or reference a document's custom fields hold, if any."""
    for cf in f.objects("CustomField"):
        name = cf.text("Name")
        if name and normalise_header(name) in REFERENCE_FIELDS:
            value = cf.text("StringValue")
            if value:
                return value
    return None


def tax_mode(f: Fields) -> TaxMode | None:
    """How line amounts include tax; None when the company does not say (US)."""
    return TAX_MODES.get(f.text("GlobalTaxCalculation") or "")


def exchange_rate(f: Fields, path: str = "ExchangeRate") -> Decimal | None:
    """The rate of a foreign-currency document; 1 (the home currency) says nothing."""
    rate = f.quantity(path)
    if rate is not None and rate <= 0:
        raise CellError(f.show(path), "an exchange rate above zero", f.column(path))
    return None if rate is None or rate == 1 else rate


def attachments(f: Fields) -> tuple[list[AttachmentRecord], str | None]:
    """Return an Attachable's links to invoices and credit memos, or why it has none.

    An Attachable is one file (``FileName``) linked to any number of transactions
    (``AttachableRef[].EntityRef``); a note without a file has nothing to fetch.
    """
    ident = f.required_text("Id", "the Attachable's Id")
    name = f.text("FileName")
    if name is None:
        return [], "a note without a file"
    size = f.amount("Size")
    if size is not None and (size < 0 or size != size.to_integral_value()):
        raise CellError(f.show("Size"), "a size in bytes", f.column("Size"))
    found = []
    for ref in f.objects("AttachableRef"):
        kind = ATTACHED_TO.get(ref.text("EntityRef.type") or "")
        value = ref.text("EntityRef.value")
        if kind is not None and value is not None:
            found.append(
                AttachmentRecord(
                    external_id=ident,
                    document_kind=kind,
                    document_ref=value,
                    name=name,
                    content_type=f.text("ContentType"),
                    size=None if size is None else int(size),
                )
            )
    return found, None if found else "linked to no invoice or credit memo"


class Lookups:
    """Names of payment methods and terms, read from their entities in the file.

    A ``PaymentMethodRef`` or ``SalesTermRef`` often carries only an Id; the entity with
    that Id gives the name. A record naming an Id not read yet ``waits`` (the reader
    holds it back to the end of the file); what no entity names is told in ``notes``.
    """

    REFS = {
        "Payment": ("PaymentMethodRef", "PaymentMethod"),
        "Invoice": ("SalesTermRef", "Term"),
    }

    def __init__(self) -> None:
        self.names: dict[str, dict[str, str]] = {"PaymentMethod": {}, "Term": {}}
        self.unnamed: dict[str, set[str]] = {"PaymentMethod": set(), "Term": set()}
        self.unattached: dict[str, int] = {}  # why an Attachable gave no attachment

    def waits(self, entity: str, f: Fields) -> bool:
        """Whether a record names a payment method or terms by an Id not read yet."""
        path, table = self.REFS.get(entity, ("", ""))
        ref = f.data.get(path) if path else None
        if not isinstance(ref, dict) or ref.get("name"):
            return False
        value = ref.get("value")
        return isinstance(value, str | int) and str(value) not in self.names[table]

    def named(self, f: Fields, path: str, table: str) -> str | None:
        """The name a reference gives, else the name of the entity its Id names."""
        name = f.text(f"{path}.name")
        ident = f.text(f"{path}.value")
        if name is not None or ident is None:
            return name
        found = self.names[table].get(ident)
        if found is None:
            self.unnamed[table].add(ident)
        return found

    def read(self, entity: str, f: Fields) -> Iterator[AttachmentRecord]:
        """Take a PaymentMethod's or Term's name; yield an Attachable's attachments."""
        if entity == "Attachable":
            found, why = attachments(f)
            if why is not None:
                self.unattached[why] = self.unattached.get(why, 0) + 1
            yield from found
            return
        ident = f.required_text("Id", f"the {entity}'s Id")
        self.names[entity][ident] = f.required_text("Name", f"the {entity}'s Name")

    def notes(self) -> Iterator[Note]:
        for entity, ids in self.unnamed.items():
            if ids:
                what = "payment method" if entity == "PaymentMethod" else "terms"
                shown = ", ".join(sorted(ids)[:5])
                yield Note(
                    f"{what} named only by QuickBooks Id ({shown}) with no {entity} "
                    f"entity of that Id in the file: left out of the copy (add a "
                    f"{entity} query to the export to show the name)"
                )
        for why, n in sorted(self.unattached.items()):
            yield Note(
                f"skipped {n} Attachable entit{'y' if n == 1 else 'ies'} ({why}): "
                "nothing to list on an invoice or credit memo"
            )
