"""Aged receivables: what each account owes, by how long it is past due (admin).

The open balances are read with one query and aged with pandas: each invoice's days
past due cut into the usual buckets, then summed per account and currency in one pivot.
Amounts stay integer minor units throughout (int64 sums; never floats), currencies are
never added together, and an invoice whose balance the source did not report is left
out and counted, not guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Connection, func, select

from schemas.tables import INVOICES

I = INVOICES  # noqa: E741
BUCKETS = ("Not yet due", "1-30 days", "31-60 days", "61-90 days", "Over 90 days")
# Days past due: up to 0 is not yet due; (0, 30] the first bucket, and so on.
_EDGES = [-(10**6), 0, 30, 60, 90, 10**6]
UNDATED = "No due date"


@dataclass(frozen=True)
class Aged:
    """One account's open balance in one currency, by age (minor units)."""

    account_id: int
    currency: str
    buckets: tuple[int, ...]  # in BUCKETS order
    undated: int  # invoices with neither a due date nor an issue date
    total: int


@dataclass(frozen=True)
class AgedReport:
    """Every account's aged balance, largest first within each currency."""

    rows: list[Aged]
    totals: dict[str, Aged]  # per currency, account_id 0
    unreported: int  # open invoices whose balance the source did not report


def aged_receivables(conn: Connection, as_of: date) -> AgedReport:
    """Age the open balances of issued invoices as of *as_of*."""
    issued = I.c.lifecycle == "issued"
    unreported = conn.execute(
        select(func.count()).where(issued, I.c.balance_minor.is_(None))
    ).scalar_one()
    found = conn.execute(
        select(I.c.account_id, I.c.currency, I.c.due_date, I.c.issue_date,
               I.c.balance_minor).where(issued, I.c.balance_minor > 0)
    ).all()  # fmt: skip
    if not found:
        return AgedReport([], {}, int(unreported))
    frame = pd.DataFrame(
        [tuple(r) for r in found],
        columns=["account_id", "currency", "due", "issued", "balance"],
    ).astype({"balance": "int64"})
    due = pd.to_datetime(frame["due"].fillna(frame["issued"]))
    days = (pd.Timestamp(as_of) - due).dt.days
    frame["age"] = pd.cut(days, bins=_EDGES, labels=list(BUCKETS)).astype("object")
    frame.loc[due.isna(), "age"] = UNDATED
    table = frame.pivot_table(
        index=["account_id", "currency"], columns="age", values="balance",
        aggfunc="sum", fill_value=0,
    ).reindex(columns=[*BUCKETS, UNDATED], fill_value=0)  # fmt: skip
    rows = [
        _aged(int(account_id), str(currency), [int(v) for v in values])
        for (account_id, currency), values in zip(
            table.index, table.to_numpy(), strict=True
        )
    ]
    rows.sort(key=lambda r: (r.currency, -r.total, r.account_id))
    by_currency = table.groupby(level="currency").sum()
    totals = {
        str(currency): _aged(0, str(currency), [int(v) for v in values])
        for currency, values in zip(
            by_currency.index, by_currency.to_numpy(), strict=True
        )
    }
    return AgedReport(rows, totals, int(unreported))


def _aged(account_id: int, currency: str, values: list[int]) -> Aged:
    *buckets, undated = values
    return Aged(account_id, currency, tuple(buckets), undated, sum(values))
