"""Settings: the example file documents every key, and bad settings say where."""

from __future__ import annotations

import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from sync.config import (
    BusinessSettings,
    PortalSettings,
    RunnerSettings,
    Settings,
    SmtpSettings,
    SourceSettings,
    StorageSettings,
    load_settings,
)
from sync.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def _example_source_keys() -> set[str]:
    text = EXAMPLE.read_text()
    block = text[text.index("# [[sources]]") :]
    return set(re.findall(r"^# ([a-z_]+) = ", block, flags=re.M))


def test_example_config_loads_to_the_defaults():
    loaded = load_settings(EXAMPLE, env={})
    defaults = Settings()
    assert loaded.business == defaults.business
    assert loaded.portal == defaults.portal
    assert loaded.smtp == defaults.smtp
    assert loaded.storage == defaults.storage
    assert loaded.runner == defaults.runner
    assert loaded.default_currency == defaults.default_currency
    assert loaded.data_dir == (EXAMPLE.parent / "billfold-data").resolve()


def test_every_setting_is_documented_in_the_example():
    table = tomllib.loads(EXAMPLE.read_text())
    top = {f.name for f in fields(Settings)} - {
        "business",
        "portal",
        "smtp",
        "storage",
        "runner",
        "sources",
        "config_path",
    }
    assert top <= set(table), top - set(table)
    assert {f.name for f in fields(BusinessSettings)} == set(table["business"])
    assert {f.name for f in fields(PortalSettings)} == set(table["portal"])
    assert {f.name for f in fields(SmtpSettings)} == set(table["smtp"])
    assert {f.name for f in fields(StorageSettings)} == set(table["storage"])
    assert {f.name for f in fields(RunnerSettings)} == set(table["runner"])
    assert {f.name for f in fields(SourceSettings)} == _example_source_keys()


def test_every_documented_key_is_a_setting():
    table = tomllib.loads(EXAMPLE.read_text())
    known = {f.name for f in fields(Settings)}
    assert set(table) - {"business", "portal", "smtp", "storage", "runner"} <= known


def test_unknown_key_names_key_and_file(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('databse_url = "x"\n')
    with pytest.raises(
        ConfigError, match=rf"unknown setting databse_url in {re.escape(str(config))}"
    ):
        load_settings(config, env={})


def test_wrong_type_and_bad_source(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("default_currency = 5\n")
    with pytest.raises(ConfigError, match="default_currency .* must be a string"):
        load_settings(config, env={})
    config.write_text('[[sources]]\nname = "q"\nkind = "ftp"\n')
    with pytest.raises(
        ConfigError,
        match=r"sources\[0\] \('q'\)\.kind .* must be one of folder, s3, xero, quickbooks",
    ):
        load_settings(config, env={})
    config.write_text('[[sources]]\nname = "q"\npath = "in"\ndate_order = "YMD"\n')
    with pytest.raises(ConfigError, match="date_order"):
        load_settings(config, env={})
    config.write_text('[[sources]]\nname = "q"\nkind = "folder"\n')
    with pytest.raises(ConfigError, match="path .* is required for a folder source"):
        load_settings(config, env={})


def test_environment_overrides_and_empty_means_unset(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        'base_url = "https://from-file.example"\n[business]\nname = "File Co"\n'
    )
    env = {
        "BILLFOLD_BASE_URL": "https://portal.example",
        "BILLFOLD_DATABASE_URL": "",
        "BILLFOLD_BUSINESS_NAME": "Env Plumbing",
        "BILLFOLD_DATA_DIR": str(tmp_path / "d"),
    }
    s = load_settings(config, env=env)
    assert s.base_url == "https://portal.example"
    assert s.database_url == ""
    assert s.business.name == "Env Plumbing"
    assert s.data_dir == tmp_path / "d"
    assert s.resolved_database_url == f"sqlite:///{tmp_path / 'd' / 'billfold.db'}"


def test_config_from_environment_variable(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('default_currency = "NZD"\n')
    assert (
        load_settings(None, env={"BILLFOLD_CONFIG": str(config)}).default_currency
        == "NZD"
    )


def test_relative_paths_are_relative_to_the_config_file(tmp_path):
    config = tmp_path / "etc" / "c.toml"
    config.parent.mkdir()
    config.write_text('data_dir = "data"\n[[sources]]\nname = "f"\npath = "inbox"\n')
    s = load_settings(config, env={})
    assert s.data_dir == tmp_path / "etc" / "data"
    assert s.sources[0].path == str(tmp_path / "etc" / "inbox")


def test_missing_config_file_says_what_to_do(tmp_path):
    with pytest.raises(ConfigError, match="copy config.example.toml"):
        load_settings(tmp_path / "nope.toml", env={})


def test_example_source_block_shows_each_default():
    text = EXAMPLE.read_text()
    block = text[text.index("# [[sources]]") :]
    uncommented = "\n".join(
        line.removeprefix("# ")
        for line in block.splitlines()
        if line.startswith("# ") and not line.startswith("# # ")
    )
    example = tomllib.loads(uncommented)["sources"][0]
    defaults = SourceSettings(name=example["name"])
    for key, value in example.items():
        if key in ("name", "kind", "path"):
            continue
        expected = getattr(defaults, key)
        if isinstance(expected, tuple):
            expected = list(expected)
        assert value == expected, key


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[sources]]\nname = "q"\npath = "in"\nschedule = "sometimes"\n',
            r"sources\[0\] \('q'\)\.schedule in .*c\.toml: 'sometimes' is not a schedule",
        ),
        (
            '[[sources]]\nname = "q"\npath = "in"\nschedule = "61 * * * *"\n',
            r"sources\[0\] \('q'\)\.schedule in .*c\.toml: .* not a valid cron line",
        ),
        (
            '[[sources]]\nname = "q"\npath = "in"\nquiet_seconds = -1\n',
            r"sources\[0\] \('q'\)\.quiet_seconds in .*c\.toml must be between 0",
        ),
        (
            '[[sources]]\nname = "q"\npath = "in"\nquiet_seconds = "5"\n',
            r"sources\[0\]\.quiet_seconds in .*c\.toml must be a number",
        ),
        (
            '[[sources]]\nname = "q"\npath = "in"\npoll = "yes"\n',
            r"sources\[0\]\.poll in .*c\.toml must be true or false",
        ),
        (
            '[[sources]]\nname = "q"\npath = "in"\ndocument_patterns = "INV-{number}.pdf"\n',
            r"sources\[0\]\.document_patterns in .*c\.toml must be a list of strings",
        ),
        (
            '[[sources]]\nname = "q"\npath = "in"\ndocument_patterns = ["INV.pdf"]\n',
            r"sources\[0\] \('q'\)\.document_patterns in .*c\.toml: 'INV\.pdf' must contain",
        ),
        (
            '[[sources]]\nname = "q"\nkind = "s3"\n',
            r"sources\[0\] \('q'\)\.bucket in .*c\.toml is required for an s3 source",
        ),
        (
            '[storage]\nbackend = "ftp"\n',
            r"storage\.backend in .*c\.toml must be one of local, s3",
        ),
        ('[storage]\nbackend = "s3"\n', r"storage\.bucket in .*c\.toml is required"),
        (
            '[storage]\nbucket_name = "x"\n',
            r"unknown setting storage\.bucket_name in .*c\.toml",
        ),
        (
            "[runner]\nlease_seconds = 0\n",
            r"runner\.lease_seconds in .*c\.toml must be greater than 0",
        ),
        (
            "[runner]\nlease_seconds = 10\nrenew_seconds = 10\n",
            r"runner\.renew_seconds in .*c\.toml must be greater than 0 and less than "
            r"runner\.lease_seconds \(10\)",
        ),
        (
            '[runner]\nhousekeeping = "hourly"\n',
            r"runner\.housekeeping in .*c\.toml: 'hourly' is not",
        ),
        (
            '[runner]\ntimezone = "Mars/Olympus"\n',
            r"runner\.timezone in .*c\.toml must be a time zone",
        ),
    ],
)
def test_source_storage_and_runner_settings_are_checked_naming_key_and_file(
    tmp_path, toml, message
):
    config = tmp_path / "c.toml"
    config.write_text(toml)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, env={})


def test_sources_runner_and_storage_settings_load(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text(
        '[runner]\nretry_seconds = 5\ntimezone = "Europe/London"\n'
        '[storage]\nbackend = "s3"\nbucket = "docs"\nendpoint_url = "http://minio:9000"\n'
        '[[sources]]\nname = "inbox"\npath = "in"\nquiet_seconds = 2\npoll = true\n'
        'document_patterns = ["INV-{number}.pdf", "{number}.*"]\n'
        '[[sources]]\nname = "bucket"\nkind = "s3"\nbucket = "exports"\nprefix = "qb/"\n'
        'schedule = "0 6 * * 1-5"\n'
    )
    s = load_settings(config, env={"BILLFOLD_RUNNER_DOWNLOAD_BACKOFF_SECONDS": "0.5"})
    folder, bucket = s.sources
    assert (folder.quiet_seconds, folder.poll) == (2.0, True)
    assert folder.document_patterns == ("INV-{number}.pdf", "{number}.*")
    assert folder.effective_schedule == "every 1 minute"
    assert (bucket.location, bucket.effective_schedule) == (
        "s3://exports/qb/",
        "0 6 * * 1-5",
    )
    assert s.runner.retry_seconds == 5 and s.runner.download_backoff_seconds == 0.5
    assert (s.storage.backend, s.storage.bucket) == ("s3", "docs")
    assert SourceSettings(name="x", kind="s3").effective_schedule == "every 15 minutes"


def test_business_locale_is_checked_and_named_when_wrong(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[business]\nlocale = "xx_YY"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(config, env={})
    assert "business.locale" in str(caught.value) and str(config) in str(caught.value)
    assert "'xx_YY'" in str(caught.value)
    assert load_settings(None, env={}).business.locale == "en_US"
    env = {"BILLFOLD_BUSINESS_LOCALE": "de_DE"}
    assert load_settings(config, env=env).business.locale == "de_DE"
    with pytest.raises(ConfigError, match="BILLFOLD_BUSINESS_LOCALE"):
        load_settings(None, env={"BILLFOLD_BUSINESS_LOCALE": "klingon"})
