"""``--config`` and ``-v`` before or after the command name, for every command.

The group reads them before the command (``billfold --config X run``); every command,
and every command of a command group (``billfold db upgrade``), reads them after its
name too (``billfold run --config X``). They are added to each command here, once, so
a new command takes them without saying so. ``--config`` given on both sides with two
different paths is a usage error (exit 2): billfold will not guess which one was meant.
"""

from __future__ import annotations

import logging

import click
from click.core import ParameterSource

from sync.cli.context import Context
from sync.log import configure as configure_logging

CONFIG_HELP = "TOML config file (also accepted before the command name)."
VERBOSE_HELP = "Log each event to stderr."


def _take_config(
    ctx: click.Context, _param: click.Parameter, value: str | None
) -> None:
    if value is None:
        return
    root = ctx.find_root()
    context = root.obj
    assert isinstance(context, Context)
    given_before = root.get_parameter_source("config") is ParameterSource.COMMANDLINE
    if given_before and context.config_path not in (None, value):
        raise click.UsageError(
            f"--config is given twice ({context.config_path} before the command, "
            f"{value} after it); give it once",
            ctx=ctx,
        )
    context.config_path = value


def _take_verbose(_ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        configure_logging(logging.INFO)


def _options() -> list[click.Parameter]:
    return [
        click.Option(
            ["--config"],
            type=click.Path(dir_okay=False),
            expose_value=False,
            callback=_take_config,
            help=CONFIG_HELP,
        ),
        click.Option(
            ["-v", "--verbose"],
            is_flag=True,
            expose_value=False,
            callback=_take_verbose,
            help=VERBOSE_HELP,
        ),
    ]


def accept_everywhere(group: click.Group) -> None:
    """Give every command under *group* (and under its groups) the shared options."""
    for command in group.commands.values():
        names = {name for param in command.params for name in param.opts}
        if "--config" not in names:
            command.params.extend(_options())
        if isinstance(command, click.Group):
            accept_everywhere(command)
