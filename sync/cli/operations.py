"""Running billfold: ``run`` (workers), ``status``, ``db upgrade``, ``serve`` and ``demo``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from sync.cli.context import Context, guard, pass_context
from sync.log import configure as configure_logging

# -- sources: run and status -----------------------------------------------------------


@click.command()
@click.option(
    "--once",
    is_flag=True,
    help="Process what every source holds now, then exit (for cron and tests).",
)
@pass_context
@guard
def run(ctx: Context, once: bool) -> None:
    """Watch folders, poll buckets and run schedules until SIGTERM or Ctrl-C."""
    import logging

    from sync.workers.runner import Runner

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


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_context
@guard
def status(ctx: Context, as_json: bool) -> None:
    """Show each source's last poll, last success, last error, pending and failed files."""
    from sync.workers.status import source_status

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
