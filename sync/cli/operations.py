"""Running billfold: ``run`` (workers), ``status``, ``db upgrade``, ``serve`` and ``demo``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from sync.cli.context import Context, guard, pass_context
from sync.errors import UsageError
from sync.log import configure as configure_logging

# -- sources: run and status -----------------------------------------------------------


@click.command()
@click.option(
    "--once",
    is_flag=True,
    help="Process what every source holds now, send due mail, then exit (cron, tests).",
)
@click.option(
    "--metrics-port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Serve Prometheus metrics on this port (portal.metrics_allow applies).",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="The address the metrics port listens on.",
)
@pass_context
@guard
def run(ctx: Context, once: bool, metrics_port: int | None, metrics_host: str) -> None:
    """Watch folders, poll buckets, run schedules and send mail until SIGTERM or Ctrl-C."""
    import functools
    import logging

    from sync.access.notices import plan_due
    from sync.access.sender import OutboxSender
    from sync.workers.runner import Job, Runner

    # Unattended: every event goes to stderr, one line each, whatever -v says.
    configure_logging(logging.INFO, ctx.settings.logging.format)
    store = ctx.store()
    notices = Job(
        "notices", ctx.settings.notices.schedule,
        functools.partial(plan_due, store, ctx.settings),
    )  # fmt: skip
    runner = Runner(ctx.settings, store, jobs=[notices])
    if metrics_port is not None:
        from sync.store.metrics import serve_metrics

        try:
            serve_metrics(ctx.settings, store, metrics_host, metrics_port)
        except OSError as exc:
            raise UsageError(
                f"cannot serve metrics on {metrics_host}:{metrics_port}: {exc}; "
                "choose another --metrics-port"
            ) from exc
    sender = OutboxSender(ctx.settings, store)
    if once:
        code = runner.run_once()
        sender.flush(timeout=max(60.0, 3.0 * ctx.settings.smtp.timeout_seconds))
        sys.exit(code)
    sender.start()  # the outbox is sent while the worker runs (a daemon thread)
    sys.exit(runner.run())


def _human_status(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        click.echo(f"{row['name']} ({row['kind']}, {row['location']})")
        click.echo(f"  schedule:     {row['schedule']}")
        click.echo(f"  last poll:    {row['last_poll'] or 'never'}")
        click.echo(f"  last success: {row['last_success'] or 'never'}")
        if "connection" in row:
            state = row["connection"]["state"]
            if row["connection"]["error"] and state != "connected":
                state += f": {row['connection']['error']}"
            click.echo(f"  connection:   {state}")
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


def _human_mail(mail: dict[str, Any]) -> None:
    oldest = (
        f" (oldest from {mail['oldest_waiting']})" if mail["oldest_waiting"] else ""
    )
    click.echo(f"mail: {mail['waiting']} waiting{oldest}, {mail['failed']} failed")
    for m in mail.get("messages", []):
        when = f"; next try {m['next_attempt']}" if m["next_attempt"] else ""
        error = f": {m['last_error']}" if m["last_error"] else ""
        click.echo(
            f"  #{m['id']} {m['state']} {m['kind']} to {m['to']}, "
            f"{m['attempts']} attempt(s){when}{error}"
        )
    if mail["failed"] and "messages" not in mail:
        click.echo("  (billfold status --mail lists them)")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--mail", "mail_detail", is_flag=True,
    help="List the mail that waits or failed in the outbox.",
)  # fmt: skip
@pass_context
@guard
def status(ctx: Context, as_json: bool, mail_detail: bool) -> None:
    """Show each source's last poll, last success, last error, pending and failed files,
    and the mail waiting in the outbox."""
    from sync.access.outbox import outbox_status
    from sync.workers.status import source_status

    with ctx.store().read() as conn:
        rows = source_status(conn, ctx.settings)
        mail = outbox_status(conn, detail=mail_detail)
    if as_json:
        click.echo(json.dumps({"sources": rows, "mail": mail} if mail_detail else rows,
                              indent=2))  # fmt: skip
        return
    if not rows:
        click.echo("(no sources configured)")
    _human_status(rows)
    _human_mail(mail)


# -- database -------------------------------------------------------------------------


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
@pass_context
@guard
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the store's tables to the current schema."""
    from sync.store.migrate import upgrade

    store = ctx.store(migrate=False)
    before, after = upgrade(store)
    if before == after:
        click.echo(f"database is up to date (revision {after})")
    else:
        click.echo(f"database migrated from {before or 'empty'} to {after}")


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@pass_context
@guard
def serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Run the portal under gunicorn (a production WSGI server)."""
    from sync.cli.demo import demo_env
    from sync.cli.server import run_server

    configure_logging(fmt=ctx.settings.logging.format)
    store = (
        ctx.store()
    )  # SQLite: migrated here, before the workers start; PostgreSQL: checked
    # On the demo's data with no business configured: the demo business, not "Your business".
    run_server(ctx.config_path, host, port, workers, env=demo_env(store, ctx.settings))


# -- demo -------------------------------------------------------------------------------


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--no-serve", is_flag=True, help="Import and print, but do not start the portal."
)
@pass_context
@guard
def demo(ctx: Context, host: str, port: int, no_serve: bool) -> None:
    """Import the bundled samples, create a demo contact, print a link, serve the portal."""
    from sync.cli.demo import run_demo

    env = run_demo(ctx.store(), ctx.settings, click.echo, host=host, port=port)
    if no_serve:
        return
    from sync.cli.demo import echo_new_links
    from sync.cli.server import run_server

    echo_new_links(click.echo)
    click.echo(f"Serving the portal on http://{host}:{port}/ (Ctrl-C to stop)")
    run_server(ctx.config_path, host, port, 2, env=env)
