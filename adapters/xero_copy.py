"""What a Xero invoice or credit note copy shows beside its figures (FORMATS.md section 7).

How line amounts stand to tax (``LineAmountTypes``), the exchange rate of a
foreign-currency document (``CurrencyRate``) and its attachments (``HasAttachments`` and
the ``Attachments`` a single-document read lists). None of it changes a figure.
"""

from __future__ import annotations

from decimal import Decimal

from adapters.errors import CellError
from adapters.toolkit.json_fields import Fields
from schemas.records import AttachmentRecord, DocumentKind, TaxMode

TAX_MODES: dict[str, TaxMode] = {
    "Exclusive": "exclusive",
    "Inclusive": "inclusive",
    "NoTax": "no_tax",
}
# The attachment a document has when Xero says so without listing it (list calls).
UNLISTED = "(not listed in this export)"


def tax_mode(raw: Fields) -> TaxMode | None:
    """Exclusive, Inclusive or NoTax; anything else (or nothing) says nothing."""
    return TAX_MODES.get(raw.text("LineAmountTypes") or "")


def exchange_rate(raw: Fields) -> Decimal | None:
    """``CurrencyRate`` of a foreign-currency document; 1 (home currency) says nothing."""
    rate = raw.quantity("CurrencyRate")
    if rate is not None and rate <= 0:
        raise CellError(
            raw.show("CurrencyRate"), "a CurrencyRate above zero", "CurrencyRate"
        )
    return None if rate is None or rate == 1 else rate


def attachments(
    raw: Fields, kind: DocumentKind, document_id: str
) -> list[AttachmentRecord]:
    """The document's attachments by name; one unnamed when Xero only says it has some."""
    found = []
    for a in raw.objects(
        "Attachments", "a list of Attachments", "an attachment object"
    ):
        name = a.required_text("FileName", "the attachment's FileName")
        size = a.amount("ContentLength")
        if size is not None and (size < 0 or size != size.to_integral_value()):
            raise CellError(
                a.show("ContentLength"), "a size in bytes", a.column("ContentLength")
            )
        found.append(
            AttachmentRecord(
                external_id=a.text("AttachmentID") or name,
                document_kind=kind,
                document_ref=document_id,
                name=name,
                content_type=a.text("MimeType"),
                size=None if size is None else int(size),
            )
        )
    if not found and raw.raw("HasAttachments") is True:
        found.append(AttachmentRecord(UNLISTED, kind, document_id, None))
    return found
