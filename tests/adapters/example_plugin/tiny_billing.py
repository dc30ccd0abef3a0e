"""Tiny Billing's CSV export: an adapter that is a column mapping plus a record builder.

README's "Adding an adapter" shows this module. The tests install it as a real
distribution (a ``*.dist-info`` with an entry point on ``sys.path``) and import its
sample through the pipeline; the contract test holds it to every adapter's rules.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from adapters.errors import CellError
from adapters.toolkit.columns import Column, Columns, nfc_key
from adapters.toolkit.table import Values
from adapters.toolkit.tabular import TabularAdapter
from schemas.records import AccountRecord, DocumentRecord, Item


class TinyBillingCsv(TabularAdapter):
    """Reads Tiny Billing's invoice export: one row per invoice."""

    name = "tiny_billing_csv"
    label = "Tiny Billing CSV"
    columns = Columns(
        Column("ticket", required=True, fields=("number",)),
        Column("client", required=True, fields=("customer_name", "customer_id")),
        Column("billed_on", required=True, kind="date"),
        Column("amount", required=True, kind="amount"),
        Column("settled", kind="flag"),
    )

    def record_label(self, rows: Sequence[Values]) -> str:
        return f"invoice {rows[0].raw('ticket').strip()}"

    def build(self, rows: Sequence[Values]) -> Iterator[Item]:
        row = rows[0]
        number = row.required("ticket", "a ticket number")
        client = nfc_key(row.required("client", "the client's name"))
        amount = row.required("amount", "the invoice's amount")
        if amount < 0:
            raise CellError(row.raw("amount"), "an amount of zero or more", "amount")
        yield DocumentRecord(
            kind="invoice",
            external_id=number,
            number=number,
            account=AccountRecord(key=client, name=client),
            issue_date=row.required("billed_on", "the date it was billed"),
            total=amount,
            currency=row.table.options.default_currency,
            paid_flag=row["settled"],  # Yes: paid in full; No: nothing paid yet
            line=row.line,
        )
