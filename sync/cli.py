"""The ``billfold`` command line. The contract (commands, JSON fields, exit codes) is in
README.md; scripts rely on it.

Exit codes: 0 success; 1 a file was rejected whole or a command failed; 2 usage errors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from sync.config import Settings, load_settings
from sync.errors import ConfigError, StoreError, SyncError, UsageError
from sync.log import configure as configure_logging
from sync.store import Store


class Context:
    """Settings and the store, opened (and migrated) on first use."""

    def __init__(self, config: str | None) -> None:
        self.config_path = config
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings

    def store(self, migrate: bool = True) -> Store:
        if self._store is None:
            from sync.migrate import ensure_current

            self._store = self.settings.open_store()
            if migrate:
                ensure_current(self._store)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None


pass_context = click.make_pass_decorator(Context)


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn billfold's own errors into one clear line and an exit code."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            _fail(str(exc), 2)
        except UsageError as exc:
            _fail(str(exc), 2)
        except (StoreError, SyncError) as exc:
            _fail(str(exc), 1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config",
    envvar="BILLFOLD_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML config file (default: none; SQLite and files under ./billfold-data/).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log each event to stderr.")
@click.version_option(package_name="billfold")
@click.pass_context
def main(ctx: click.Context, config: str | None, verbose: bool) -> None:
    """billfold: invoice copies, statements and balances your customers can reach."""
    import logging

    configure_logging(logging.INFO if verbose else logging.ERROR)
    ctx.obj = Context(config)
    ctx.call_on_close(ctx.obj.close)


# -- import -----------------------------------------------------------------------


def _human_import(result: Any) -> None:
    status = result.status.upper()
    click.echo(
        f"{result.file}: {status}" + (f" ({result.adapter})" if result.adapter else "")
    )
    if result.reason:
        click.echo(f"  reason: {result.reason}")
    if result.status == "applied":
        click.echo(
            f"  created {result.created}, updated {result.updated}, unchanged "
            f"{result.unchanged}, rejected {len(result.rejected)}"
        )
    for r in result.rejected[:50]:
        where = f"line {r['line']}" if r["line"] else "?"
        col = f", column {r['column']}" if r["column"] else ""
        val = f", value {r['value']!r}" if r["value"] is not None else ""
        click.echo(f"  rejected {r['record'] or ''} ({where}{col}{val}): {r['reason']}")
    if len(result.rejected) > 50:
        click.echo(
            f"  ... and {len(result.rejected) - 50} more rejected records (see --json)"
        )
    for w in result.warnings:
        click.echo(f"  warning: {w}")


@main.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--source", default="default", show_default=True, help="Source the files come from."
)
@click.option(
    "--adapter",
    default=None,
    help="Read every file with this adapter (skip detection).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@pass_context
@_guard
def import_command(
    ctx: Context,
    paths: tuple[Path, ...],
    source: str,
    adapter: str | None,
    as_json: bool,
) -> None:
    """Import billing exports (CSV, QuickBooks, Xero) into the store."""
    from sync.pipeline import import_file

    store = ctx.store()
    results = []
    for path in paths:
        if path.is_dir():
            _fail(f"{path} is a directory; pass the export files themselves", 2)
        show_progress = (
            sys.stderr.isatty()
            and not as_json
            and path.exists()
            and path.stat().st_size > 4 << 20
        )
        if show_progress:
            with click.progressbar(
                length=path.stat().st_size, label=path.name, file=sys.stderr
            ) as bar:
                last = [0]

                def progress(done: int, total: int, bar=bar, last=last) -> None:
                    bar.update(done - last[0])
                    last[0] = done

                result = import_file(
                    store,
                    ctx.settings,
                    path,
                    source=source,
                    adapter=adapter,
                    on_progress=progress,
                )
        else:
            result = import_file(
                store, ctx.settings, path, source=source, adapter=adapter
            )
        results.append(result)
        if not as_json:
            _human_import(result)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2))
    if not all(r.ok for r in results):
        sys.exit(1)


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
    from sync.ledger import resolve_account, with_sites

    if account is None:
        return None
    return with_sites(conn, [resolve_account(conn, account, source).id])


@main.command()
@click.option(
    "--account", default=None, help="Account key or name (its sites are included)."
)
@click.option("--source", default=None, help="Only look for --account in this source.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@_guard
def balances(
    ctx: Context, account: str | None, source: str | None, as_json: bool
) -> None:
    """Show what each account owes, per currency ("-" means the exports cannot tell)."""
    from sync.ledger import balances as compute

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


@main.command()
@click.option(
    "--account", required=True, help="Account key or name (its sites are included)."
)
@click.option("--source", default=None, help="Only look for --account in this source.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@_guard
def invoices(ctx: Context, account: str, source: str | None, as_json: bool) -> None:
    """List an account's invoices with what is paid and due."""
    from sync.ledger import invoice_list

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


@main.command()
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
@_guard
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
    from sync.ledger import resolve_account
    from sync.statement import build_statement, statement_csv, statement_json

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
        from sync.pdf import statement_pdf

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


# -- sources: run and status -----------------------------------------------------------


@main.command()
@click.option(
    "--once",
    is_flag=True,
    help="Process what every source holds now, then exit (for cron and tests).",
)
@pass_context
@_guard
def run(ctx: Context, once: bool) -> None:
    """Watch folders, poll buckets and run schedules until SIGTERM or Ctrl-C."""
    import logging

    from sync.runner import Runner

    # Unattended: every event goes to stderr, one line each, whatever -v says.
    configure_logging(logging.INFO)
    runner = Runner(ctx.settings, ctx.store())
    sys.exit(runner.run_once() if once else runner.run())


def _human_status(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        click.echo(f"{row['name']} ({row['kind']}, {row['location']})")
        click.echo(f"  schedule:     {row['schedule']}")
        click.echo(f"  last poll:    {row['last_poll'] or 'never'}")
        click.echo(f"  last success: {row['last_success'] or 'never'}")
        if row["last_error"]:
            click.echo(f"  last error:   {row['last_error']} ({row['last_error_at']})")
        pending = row["files_pending"]
        click.echo(
            f"  pending:      {'unknown' if pending is None else pending}"
            f" (importing now: {row['in_progress']})"
        )
        if row["last_import"]:
            last = row["last_import"]
            click.echo(
                f"  last import:  {last['file']} ({last['status']}, batch "
                f"{last['batch_id']}, {last['at']})"
            )
        if row["failed_files"]:
            click.echo(f"  failed files: {row['failed_count']}")
        for failed in row["failed_files"]:
            retry = f"; retry at {failed['retry_at']}" if failed["retry_at"] else ""
            click.echo(
                f"    {failed['file']}: {failed['status']} after {failed['attempts']} "
                f"attempt(s): {failed['reason']}{retry}"
            )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@_guard
def status(ctx: Context, as_json: bool) -> None:
    """Show each source's last poll, last success, last error, pending and failed files."""
    from sync.status import source_status

    with ctx.store().read() as conn:
        rows = source_status(conn, ctx.settings)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("(no sources configured)")
        return
    _human_status(rows)


# -- database -------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_context
@_guard
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the store's tables to the current schema."""
    from sync.migrate import upgrade

    store = ctx.store(migrate=False)
    before, after = upgrade(store)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database migrated from {before or 'empty'} to {after}")


# -- portal access ----------------------------------------------------------------------


def _set_enabled(ctx: Context, account: str, source: str | None, enabled: bool) -> None:
    from sync import access
    from sync.ledger import resolve_account

    with ctx.store().write(ledger=False) as conn:
        ref = resolve_account(conn, account, source)
        access.set_portal_enabled(conn, ref.id, enabled, actor="cli")
    state = "enabled" if enabled else "disabled"
    click.echo(f"portal {state} for {ref.name} ({ref.key}) and its sites")


@main.command()
@click.argument("account")
@click.option("--source", default=None, help="Only look for ACCOUNT in this source.")
@pass_context
@_guard
def enable(ctx: Context, account: str, source: str | None) -> None:
    """Open the portal to ACCOUNT and its sites (pilot rollout)."""
    _set_enabled(ctx, account, source, True)


@main.command()
@click.argument("account")
@click.option("--source", default=None, help="Only look for ACCOUNT in this source.")
@pass_context
@_guard
def disable(ctx: Context, account: str, source: str | None) -> None:
    """Close the portal to ACCOUNT (its contacts see nothing of it)."""
    _set_enabled(ctx, account, source, False)


@main.command("confirm-account")
@click.argument("account")
@click.option("--source", default=None, help="Only look for ACCOUNT in this source.")
@pass_context
@_guard
def confirm_account(ctx: Context, account: str, source: str | None) -> None:
    """Confirm that a held ACCOUNT's names are one customer (then it may be enabled)."""
    from sync import identity
    from sync.ledger import resolve_account

    with ctx.store().write(ledger=False) as conn:
        ref = resolve_account(conn, account, source)
        names = identity.confirm(conn, ref.id, actor="cli")
    click.echo(
        f"confirmed {ref.name} ({ref.key}) as one customer: {identity.shown_names(names)}"
    )


@main.command()
@click.argument("email")
@click.option(
    "--account",
    "accounts",
    multiple=True,
    required=True,
    help="Account key or name (repeat for several).",
)
@click.option(
    "--role",
    type=click.Choice(["billing", "documents"]),
    default="billing",
    show_default=True,
)
@click.option("--name", default=None, help="The contact's name.")
@click.option("--source", default=None, help="Only look for accounts in this source.")
@click.option(
    "--no-email", is_flag=True, help="Do not send the invitation email; print the link."
)
@pass_context
@_guard
def invite(
    ctx: Context,
    email: str,
    accounts: tuple[str, ...],
    role: str,
    name: str | None,
    source: str | None,
    no_email: bool,
) -> None:
    """Give EMAIL access to accounts and send a sign-in link."""
    from sync import access, identity
    from sync.ledger import resolve_account
    from sync.mail import send, sign_in_message

    settings = ctx.settings
    with ctx.store().write(ledger=False) as conn:
        refs = [resolve_account(conn, key, source) for key in accounts]
        contact_id, token = access.invite(
            conn, email, [ref.id for ref in refs], role, actor="cli", name=name,
            link_hours=settings.portal.invite_link_hours,
        )  # fmt: skip
        visible = access.visible_accounts(conn, contact_id)
        held = {ref.id for ref in refs if identity.held_names(conn, ref.id)}
    url = access.link_url(settings.base_url, token)
    for ref in refs:
        if ref.id in held:
            click.echo(
                f"warning: {ref.name}'s customer id carried several names; the contact "
                f"sees nothing of it until `billfold confirm-account {ref.key!r}`",
                err=True,
            )
        elif ref.id not in visible:
            click.echo(
                f"warning: {ref.name} is not enabled for the portal yet; the contact will "
                f"see it after `billfold enable {ref.key!r}`",
                err=True,
            )
    if no_email:
        click.echo(url)
        return
    sent = send(
        settings,
        sign_in_message(settings, access.normalise_email(email), url, invited=True),
    )
    click.echo(
        f"invited {email} ({role})"
        + ("" if sent else f"; no SMTP configured, link: {url}")
    )


@main.command()
@click.argument("email")
@pass_context
@_guard
def revoke(ctx: Context, email: str) -> None:
    """End EMAIL's access now: sessions end and unused links stop working."""
    from sync import access

    with ctx.store().write(ledger=False) as conn:
        contact = access.find_contact(conn, email)
        if contact is None:
            raise UsageError(f"no contact has the address {email}")
        access.revoke_access(conn, contact["id"], actor="cli")
    click.echo(f"revoked {email}")


@main.command("login-link")
@click.argument("email")
@pass_context
@_guard
def login_link(ctx: Context, email: str) -> None:
    """Print a one-time sign-in URL for EMAIL (for support; valid for link_minutes)."""
    from sync import access
    from sync.audit import record

    settings = ctx.settings
    with ctx.store().write(ledger=False) as conn:
        contact = access.find_contact(conn, email)
        if contact is None or not access.may_sign_in(conn, contact):
            raise UsageError(
                f"{email} cannot sign in: no such contact, access revoked, or none of its "
                "accounts is enabled for the portal"
            )
        token = access.issue_link(
            conn,
            "contact",
            contact["id"],
            contact["email"],
            settings.portal.link_minutes,
        )
        record(
            conn, "cli", "login_link", record_kind="contact", record_id=contact["id"]
        )
    click.echo(access.link_url(settings.base_url, token))


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@pass_context
@_guard
def serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Run the portal under gunicorn (a production WSGI server)."""
    from sync.server import run_server

    ctx.store()  # migrate before the workers start
    run_server(ctx.config_path, host, port, workers)


@main.command("mark-paid")
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
@_guard
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
    from schemas.tables import Invoice
    from schemas.typed_amount import AmountError, read_minor
    from sync.mark_plans import record_payment
    from sync.marks import mark_paid, undo_mark

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
        table = Invoice.__table__  # type: ignore[attr-defined]
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


@main.group()
def admin() -> None:
    """Office staff who use the admin portal."""


@admin.command("add")
@click.argument("email")
@click.option("--name", default=None)
@click.option(
    "--no-email", is_flag=True, help="Print the sign-in link instead of emailing it."
)
@pass_context
@_guard
def admin_add(ctx: Context, email: str, name: str | None, no_email: bool) -> None:
    """Make EMAIL an admin and send a sign-in link for the admin portal."""
    from sync import access
    from sync.audit import record
    from sync.mail import Message, send

    settings = ctx.settings
    with ctx.store().write(ledger=False) as conn:
        admin_id = access.ensure_admin(conn, email, name)
        token = access.issue_link(
            conn,
            "admin",
            admin_id,
            access.normalise_email(email),
            settings.portal.link_minutes,
        )
        record(conn, "cli", "admin_add", record_kind="admin", record_id=admin_id)
    url = access.link_url(settings.base_url, token, admin=True)
    if no_email:
        click.echo(url)
        return
    body = (
        f"You can now manage billfold for {settings.business.name}.\n\nSign in (the link works "
        f"once, for {settings.portal.link_minutes} minutes):\n\n{url}\n\nLater, ask for a new "
        f"link at {settings.base_url.rstrip('/')}/admin/sign-in.\n"
    )
    sent = send(
        settings,
        Message(
            access.normalise_email(email),
            f"billfold admin access for {settings.business.name}",
            body,
            link=url,
        ),
    )
    click.echo(
        f"{email} is an admin" + ("" if sent else f"; no SMTP configured, link: {url}")
    )


@admin.command("remove")
@click.argument("email")
@pass_context
@_guard
def admin_remove(ctx: Context, email: str) -> None:
    """Take admin access away from EMAIL (their sessions end at once)."""
    from sqlalchemy import update

    from schemas.tables import AdminUser, utcnow
    from sync import access
    from sync.audit import record

    with ctx.store().write(ledger=False) as conn:
        found = access.find_admin(conn, email)
        if found is None:
            raise UsageError(f"{email} is not an admin")
        table = AdminUser.__table__  # type: ignore[attr-defined]
        conn.execute(
            update(table).where(table.c.id == found["id"]).values(revoked_at=utcnow())
        )
        access.end_sessions_of(conn, "admin", found["id"])
        access.kill_links(conn, "admin", found["id"])
        record(conn, "cli", "admin_remove", record_kind="admin", record_id=found["id"])
    click.echo(f"{email} is no longer an admin")


# -- demo -------------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--no-serve", is_flag=True, help="Import and print, but do not start the portal."
)
@pass_context
@_guard
def demo(ctx: Context, host: str, port: int, no_serve: bool) -> None:
    """Import the bundled samples, create a demo contact, print a link, serve the portal."""
    from sync.demo import run_demo

    env = run_demo(ctx.store(), ctx.settings, click.echo, host=host, port=port)
    if no_serve:
        return
    from sync.demo import echo_new_links
    from sync.server import run_server

    echo_new_links(click.echo)
    click.echo(f"Serving the portal on http://{host}:{port}/ (Ctrl-C to stop)")
    run_server(ctx.config_path, host, port, 2, env=env)


if __name__ == "__main__":  # pragma: no cover
    main()
