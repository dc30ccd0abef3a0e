"""README: every command takes ``--config PATH``, before or after the command name."""

from __future__ import annotations

import json
import shutil

import click
import pytest
from click.testing import CliRunner

from sync.cli import main
from tests.helpers import SAMPLE_LEDGER
from tests.workers import write_config


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


COMMANDS = _commands(main)


def test_the_list_of_commands_is_the_whole_cli():
    assert len(COMMANDS) >= 20 and ("db", "upgrade") in COMMANDS
    assert ("run",) in COMMANDS and ("backup",) in COMMANDS


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_takes_config_before_or_after_its_name(command, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("")
    runner = CliRunner()
    after = runner.invoke(main, [*command, "--config", str(config), "--help"])
    assert after.exit_code == 0, after.output
    assert "--config FILE" in after.output
    before = runner.invoke(main, ["--config", str(config), *command, "--help"])
    assert before.exit_code == 0, before.output


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """Commands run from a folder that is not the store's: a --config that was not
    read would leave a default store (./billfold-data) here."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    for key in [k for k in __import__("os").environ if k.startswith("BILLFOLD_")]:
        monkeypatch.delenv(key)
    yield folder
    assert not (folder / "billfold-data").exists()


def test_commands_read_the_config_given_after_their_name(
    settings, store, tmp_path, elsewhere
):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(SAMPLE_LEDGER, inbox / SAMPLE_LEDGER.name)
    config = write_config(
        tmp_path / "config.toml",
        settings,
        [{"name": "books", "kind": "folder", "path": str(inbox), "quiet_seconds": 0.0}],
    )
    runner = CliRunner()
    ran = runner.invoke(main, ["run", "--once", "--config", str(config)])
    assert ran.exit_code == 0, ran.output
    assert (inbox / "processed").is_dir()

    after = runner.invoke(main, ["balances", "--json", "--config", str(config)])
    before = runner.invoke(main, ["--config", str(config), "balances", "--json"])
    assert after.exit_code == before.exit_code == 0, after.output + before.output
    assert json.loads(after.output) == json.loads(before.output) != []

    status = runner.invoke(main, ["status", "--json", "--config", str(config)])
    assert [s["name"] for s in json.loads(status.output)] == ["books"]
    upgrade = runner.invoke(main, ["db", "upgrade", "--config", str(config)])
    assert upgrade.exit_code == 0 and "up to date" in upgrade.output


def test_config_after_the_name_wins_over_billfold_config(
    settings, store, tmp_path, elsewhere
):
    config = write_config(tmp_path / "config.toml", settings, [])
    runner = CliRunner()
    runner.invoke(main, ["import", str(SAMPLE_LEDGER), "--config", str(config)])
    missing = tmp_path / "nowhere.toml"
    result = runner.invoke(
        main,
        ["balances", "--json", "--config", str(config)],
        env={"BILLFOLD_CONFIG": str(missing)},
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) != []


def test_two_different_configs_are_refused(tmp_path, elsewhere):
    one, two = tmp_path / "one.toml", tmp_path / "two.toml"
    one.write_text("")
    two.write_text("")
    result = CliRunner().invoke(
        main, ["--config", str(one), "balances", "--config", str(two)]
    )
    assert result.exit_code == 2
    assert "--config is given twice" in result.output
