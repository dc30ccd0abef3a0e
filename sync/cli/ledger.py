"""The ledger's commands: ``balances``, ``invoices``, ``statement`` and ``mark-paid``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from sync.cli.context import Context, guard, pass_context
from sync.errors import UsageError

# -- balances and invoices ----------------------------------------------------------


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> None:
    if not rows:
        click.echo("(nothing)")
        return
    cells = [[("-" if r[k] is None else str(r[k])) for k, _ in columns] for r in rows]
    widths = [
        max(len(h), *(len(c[i]) for c in cells)) for i, (_, h) in enumerate(columns)
    ]
    click.echo("  ".join(h.ljust(w) for (_, h), w in zip(columns, widths, strict=True)))
    for c in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(c, widths, strict=True)))


def _account_scope(
    conn: Any, account: str | None, source: str | None
) -> list[int] | None:
    from sync.ledger.accounts import resolve_account, with_sites

    if account is None:
        return None
    return with_sites(conn, [resolve_account(conn, account, source).id])


@click.command()
@click.option(
    "--account", default=None, help="Account key or name (its sites are included)."
)
@click.option("--source", default=None, help="Only look for --account in this source.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@guard
def balances(
    ctx: Context, account: str | None, source: str | None, as_json: bool
) -> None:
    """Show what each account owes, per currency ("-" means the exports cannot tell)."""
    from sync.ledger.balances import balances as compute

    with ctx.store().read() as conn:
        rows = compute(conn, _account_scope(conn, account, source))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _table(
        rows,
        [
            ("account", "ACCOUNT"), ("currency", "CCY"), ("invoice_count", "INVOICES"),
            ("total_billed", "BILLED"), ("total_paid", "PAID"), ("balance_due", "DUE"),
            ("credit_note_total", "CREDIT NOTES"), ("remaining_credit", "CREDIT LEFT"),
            ("unapplied_payments", "UNAPPLIED"), ("net_balance", "NET"),
        ],
    )  # fmt: skip


@click.command()
@click.option(
    "--account", required=True, help="Account key or name (its sites are included)."
)
@click.option("--source", default=None, help="Only look for --account in this source.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@guard
def invoices(ctx: Context, account: str, source: str | None, as_json: bool) -> None:
    """List an account's invoices with what is paid and due."""
    from sync.ledger.invoices import invoice_list

    today = datetime.now(UTC).date()
    with ctx.store().read() as conn:
        scope = _account_scope(conn, account, source)
        assert scope is not None
        rows = invoice_list(conn, scope, today)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    _table(
        [{**r, "overdue": "overdue" if r["overdue"] else ""} for r in rows],
        [
            ("number", "NUMBER"), ("account", "ACCOUNT"), ("issue_date", "DATE"),
            ("due_date", "DUE"), ("currency", "CCY"), ("total", "TOTAL"), ("paid", "PAID"),
            ("balance_due", "BALANCE"), ("status", "STATUS"), ("overdue", "OVERDUE"),
        ],
    )  # fmt: skip


@click.command()
@click.argument("account")
@click.option(
    "--from",
    "start",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="First day (YYYY-MM-DD).",
)
@click.option(
    "--to",
    "end",
    required=True,
    type=click.DateTime(["%Y-%m-%d"]),
    help="Last day (YYYY-MM-DD).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "csv", "pdf"]),
    default="text",
    show_default=True,
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file.",
)
@click.option("--source", default=None, help="Only look for ACCOUNT in this source.")
@pass_context
@guard
def statement(
    ctx: Context,
    account: str,
    start: datetime,
    end: datetime,
    fmt: str,
    output: Path | None,
    source: str | None,
) -> None:
    """Statement of ACCOUNT (key or name; its sites included) for a period."""
    from sync.ledger.accounts import resolve_account
    from sync.ledger.statement import build_statement
    from sync.ledger.statement_output import statement_csv, statement_json

    if end < start:
        raise UsageError("--to is before --from")
    with ctx.store().read() as conn:
        ref = resolve_account(conn, account, source)
        built = build_statement(conn, ref.id, start.date(), end.date())
    if fmt == "json":
        data = (
            json.dumps(statement_json(built), indent=2, ensure_ascii=False) + "\n"
        ).encode()
    elif fmt == "csv":
        data = statement_csv(built)
    elif fmt == "pdf":
        from sync.ledger.pdf import statement_pdf

        data = statement_pdf(built, ctx.settings.business, datetime.now(UTC).date())
        if output is None and sys.stdout.isatty():
            raise UsageError(
                "a PDF is binary: write it to a file with -o statement.pdf"
            )
    else:
        data = _statement_text(built, ctx.settings.business.locale).encode()
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        output.write_bytes(data)
        click.echo(f"wrote {output}", err=True)


def _statement_text(built: Any, locale: str) -> str:
    from functools import partial

    from schemas.money import format_money as money_in

    format_money = partial(money_in, locale=locale)

    out = [
        f"Statement for {built.account} ({built.account_key}), {built.start} to {built.end}"
    ]
    for section in built.sections:
        for lg in section.ledgers:
            cur = lg.currency
            out.append("")
            out.append(
                f"{section.name} [{cur}]"
                + (f"  (site of {section.parent})" if section.parent else "")
            )
            out.append(
                f"  {built.start}  {'Opening balance':52} {'':>14} {format_money(lg.opening, cur):>14}"
            )
            for line, running in lg.lines:
                out.append(
                    f"  {line.on}  {line.description[:52]:52} {format_money(line.amount, cur):>14} {format_money(running, cur):>14}"
                )
            out.append(
                f"  {built.end}  {'Closing balance':52} {'':>14} {format_money(lg.closing, cur):>14}"
            )
            aging = ", ".join(
                f"{b}: {format_money(v, cur)}" for b, v in lg.aging.items()
            )
            out.append(
                f"  Aging at {built.end}: {aging}; unmatched credits {format_money(lg.unmatched, cur)}"
            )
            for u in lg.undated:
                out.append(
                    f"  Invoice {u.number} {format_money(u.amount, cur)}: {u.note}"
                )
    out += [f"\nNote: {note}" for note in built.notes]
    return "\n".join(out) + "\n"


@click.command("mark-paid")
@click.argument("invoice", required=False)
@click.option("--source", default=None, help="Only look for INVOICE in this source.")
@click.option(
    "--amount",
    default=None,
    help="Total settled so far (default: the invoice's total), in [business] locale.",
)
@click.option(
    "--received",
    default=None,
    help="A payment received now, added to what is settled (instead of --amount).",
)
@click.option(
    "--date",
    "paid_on",
    type=click.DateTime(["%Y-%m-%d"]),
    default=None,
    help="When it was paid (default today).",
)
@click.option("--method", default=None)
@click.option("--reference", default=None)
@click.option("--note", default=None)
@click.option(
    "--undo", "undo", type=int, default=None, help="Withdraw paid mark UNDO instead."
)
@pass_context
@guard
def mark_paid_command(
    ctx: Context,
    invoice: str | None,
    source: str | None,
    amount: str | None,
    received: str | None,
    paid_on: datetime | None,
    method: str | None,
    reference: str | None,
    note: str | None,
    undo: int | None,
) -> None:
    """Record that INVOICE (its number) is paid when no feed says so; or --undo MARK_ID.

    Amounts are read as people of ``[business] locale`` write them (8,50 is refused in
    en_US and is 8.50 in de_DE). A mark that would change nothing is refused.
    """
    from sqlalchemy import select

    from schemas.money import format_money
    from schemas.tables import INVOICES
    from schemas.typed_amount import AmountError, read_minor
    from sync.ledger.mark_plans import record_payment
    from sync.ledger.marks import mark_paid, undo_mark

    locale = ctx.settings.business.locale
    with ctx.store().write() as conn:
        if undo is not None:
            undo_mark(conn, undo, "cli")
            click.echo(f"paid mark {undo} withdrawn")
            return
        if not invoice:
            raise UsageError("name the invoice number (or use --undo MARK_ID)")
        if amount is not None and received is not None:
            raise UsageError("give --amount (total settled) or --received, not both")
        table = INVOICES
        stmt = select(table.c.id, table.c.currency, table.c.source).where(
            table.c.number == invoice
        )
        if source:
            stmt = stmt.where(table.c.source == source)
        rows = conn.execute(stmt).all()
        if len(rows) != 1:
            raise UsageError(
                f"{len(rows)} invoices are numbered {invoice!r}"
                + (
                    "; add --source"
                    if rows
                    else "; `billfold invoices --account KEY` lists them"
                )
            )
        option, typed = (
            ("--received", received) if received is not None else ("--amount", amount)
        )
        minor = None
        if typed is not None:
            try:
                minor = read_minor(typed, rows[0].currency, locale)
            except AmountError as exc:
                raise UsageError(f"{option}: {exc}") from exc
        when = paid_on.date() if paid_on else datetime.now(UTC).date()
        if received is not None:
            mark_id, plan = record_payment(
                conn, rows[0].id, minor, paid_on=when, actor="cli", method=method,
                reference=reference, note=note, locale=locale,
            )  # fmt: skip
            left = format_money(plan.balance_after, plan.currency, locale=locale)
            click.echo(
                f"invoice {invoice}: payment recorded (mark {mark_id}); balance {left}"
            )
            return
        mark_id = mark_paid(
            conn, rows[0].id, paid_on=when, actor="cli", amount_minor=minor,
            method=method, reference=reference, note=note, locale=locale,
        )  # fmt: skip
    click.echo(f"invoice {invoice} marked paid (mark {mark_id})")
