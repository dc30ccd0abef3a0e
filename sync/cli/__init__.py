"""The ``billfold`` command line. The contract (commands, JSON fields, exit codes) is in
README.md; scripts rely on it.

Exit codes: 0 success; 1 a file was rejected whole or a command failed; 2 usage errors.
``--config`` and ``-v`` are accepted before or after the command name, by every command
(``billfold --config X run`` and ``billfold run --config X``): ``sync.cli.options``.
Each command group is one module: ``imports`` (import), ``ledger`` (balances, invoices,
statement, mark-paid), ``access`` (invite, revoke, login-link, enable, disable,
confirm-account, admin) and ``operations`` (run, status, db, serve, demo). The CLI is
composition: it may import every room of ``sync``; nothing imports it.
"""

from __future__ import annotations

import click

from sync.cli.access import (
    admin,
    confirm_account,
    disable,
    enable,
    invite,
    login_link,
    revoke,
)
from sync.cli.backup import backup, restore
from sync.cli.context import Context
from sync.cli.imports import import_command
from sync.cli.ledger import balances, invoices, mark_paid_command, statement
from sync.cli.operations import db, demo, run, serve, status
from sync.cli.options import accept_everywhere
from sync.log import configure as configure_logging


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


main.add_command(enable)
main.add_command(disable)
main.add_command(confirm_account)
main.add_command(invite)
main.add_command(revoke)
main.add_command(login_link)
main.add_command(admin)
main.add_command(import_command)
main.add_command(balances)
main.add_command(invoices)
main.add_command(statement)
main.add_command(mark_paid_command)
main.add_command(run)
main.add_command(status)
main.add_command(db)
main.add_command(serve)
main.add_command(demo)
main.add_command(backup)
main.add_command(restore)
accept_everywhere(main)


if __name__ == "__main__":  # pragma: no cover
    main()
