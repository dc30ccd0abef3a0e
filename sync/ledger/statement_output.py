"""A statement written out: the JSON object and the CSV download."""

from __future__ import annotations

from typing import Any

from schemas.money import to_text
from sync.ledger.statement import Statement


def statement_json(statement: Statement) -> dict[str, Any]:
    """Return the statement as JSON-ready data (money as decimal strings)."""

    def money(v: int, cur: str) -> str | None:
        return to_text(v, cur)

    return {
        "account": statement.account,
        "account_key": statement.account_key,
        "from": statement.start.isoformat(),
        "to": statement.end.isoformat(),
        "sections": [
            {
                "account": s.name,
                "account_key": s.key,
                "parent": s.parent,
                "currencies": [
                    {
                        "currency": lg.currency,
                        "opening_balance": money(lg.opening, lg.currency),
                        "lines": [
                            {
                                "date": line.on.isoformat(),
                                "type": line.kind,
                                "reference": line.reference,
                                "description": line.description,
                                "amount": money(line.amount, lg.currency),
                                "balance": money(running, lg.currency),
                                "due_date": line.due_date.isoformat()
                                if line.due_date
                                else None,
                                "date_in_export": line.date_known,
                            }
                            for line, running in lg.lines
                        ],
                        "closing_balance": money(lg.closing, lg.currency),
                        "open_invoices": [
                            {
                                "number": o.number,
                                "issue_date": o.issue_date.isoformat()
                                if o.issue_date
                                else None,
                                "due_date": o.due_date.isoformat()
                                if o.due_date
                                else None,
                                "total": money(o.total, lg.currency),
                                "open": money(o.open, lg.currency),
                                "days_past_due": o.days_past_due,
                                "bucket": o.bucket,
                            }
                            for o in lg.open_items
                        ],
                        "aging": {
                            b: money(v, lg.currency) for b, v in lg.aging.items()
                        },
                        "paid_date_not_in_export": [
                            {
                                "number": u.number,
                                "issue_date": u.issue_date.isoformat()
                                if u.issue_date
                                else None,
                                "due_date": u.due_date.isoformat()
                                if u.due_date
                                else None,
                                "total": money(u.total, lg.currency),
                                "amount": money(u.amount, lg.currency),
                                "first_reported": u.first_reported.isoformat(),
                                "note": u.note,
                            }
                            for u in lg.undated
                        ],
                        "unmatched_credits": money(lg.unmatched, lg.currency),
                    }
                    for lg in s.ledgers
                ],
            }
            for s in statement.sections
        ],
        "totals": {
            cur: {
                "opening_balance": money(t["opening"], cur),
                "charges": money(t["charges"], cur),
                "credits": money(t["credits"], cur),
                "closing_balance": money(t["closing"], cur),
                "aging": {b: money(v, cur) for b, v in t["aging"].items()},
                "paid_date_not_in_export": money(t["undated"], cur),
                "unmatched_credits": money(t["unmatched"], cur),
            }
            for cur, t in sorted(statement.totals().items())
        },
        "notes": statement.notes,
    }


STATEMENT_CSV_HEADER = (
    "account", "account_key", "currency", "date", "type", "reference", "description",
    "amount", "balance",
)  # fmt: skip


def statement_csv(statement: Statement) -> bytes:
    """Return the statement as CSV: opening, each line, closing, the aging rows, the
    invoices paid on no date the export gives (``paid_date_not_in_export``), and the
    statement's notes (``note``)."""
    from sync.ledger.csv_out import write_csv

    rows: list[list[object]] = []
    start, end = statement.start.isoformat(), statement.end.isoformat()
    for s in statement.sections:
        for lg in s.ledgers:
            cur = lg.currency
            base = [s.name, s.key, cur]
            rows.append(
                [
                    *base,
                    start,
                    "opening_balance",
                    "",
                    "Opening balance",
                    "",
                    to_text(lg.opening, cur),
                ]
            )
            for line, running in lg.lines:
                rows.append(
                    [*base, line.on.isoformat(), line.kind, line.reference, line.description,
                     to_text(line.amount, cur), to_text(running, cur)]
                )  # fmt: skip
            rows.append(
                [
                    *base,
                    end,
                    "closing_balance",
                    "",
                    "Closing balance",
                    "",
                    to_text(lg.closing, cur),
                ]
            )
            for bucket, amount in lg.aging.items():
                rows.append(
                    [
                        *base,
                        end,
                        "aging",
                        bucket,
                        f"Open invoices {bucket} days past due"
                        if bucket != "current"
                        else "Open invoices not yet due",
                        to_text(amount, cur),
                        "",
                    ]
                )
            for u in lg.undated:
                rows.append(
                    [*base, end, "paid_date_not_in_export", u.number, u.note,
                     to_text(u.amount, cur), ""]
                )  # fmt: skip
            rows.append(
                [
                    *base,
                    end,
                    "unmatched_credits",
                    "",
                    "Payments and credits not matched to an invoice",
                    to_text(lg.unmatched, cur),
                    "",
                ]
            )
    for note in statement.notes:
        rows.append(
            [
                statement.account,
                statement.account_key,
                "",
                end,
                "note",
                "",
                note,
                "",
                "",
            ]
        )
    return write_csv(STATEMENT_CSV_HEADER, rows, text_columns=(0, 1, 5, 6))
