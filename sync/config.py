"""Settings: read once from TOML, then ``BILLFOLD_*`` environment overrides.

Every key lives in a frozen dataclass below and in ``config.example.toml`` with its
default (a test keeps the two in step). An unknown key, or a value of the wrong type,
is a ``ConfigError`` naming the key and the file. Environment variables override the
file: ``BILLFOLD_<KEY>`` for top-level keys and ``BILLFOLD_<TABLE>_<KEY>`` for keys of a
table (``BILLFOLD_SMTP_HOST``); an empty value means "not set".
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from sync.api_sources import API_KINDS, ApiKeys, check_api_source
from sync.errors import ConfigError
from sync.schedules import parse_schedule

DEFAULT_DATA_DIR = "billfold-data"
SOURCE_KINDS = ("folder", "s3", *API_KINDS)
MODES = ("incremental", "snapshot")
DATE_ORDERS = ("DMY", "MDY")
STORAGE_BACKENDS = ("local", "s3")
DEFAULT_S3_SCHEDULE = "every 15 minutes"
DEFAULT_RESCAN_SCHEDULE = "every 1 minute"


@dataclass(frozen=True)
class BusinessSettings:
    """Who the portal, PDFs and emails speak for."""

    name: str = "Your business"
    email: str = ""
    phone: str = ""
    address: str = ""
    website: str = ""
    tax_id: str = ""
    logo: str = ""
    colour: str = "#1f4e79"
    paper: str = "letter"
    locale: str = "en_US"
    remit_to: str = ""
    bank_details: str = ""
    payable_to: str = ""

    @property
    def cheque(self) -> str:
        """The word for a paper payment in the business's locale: check in the US."""
        return "check" if self.locale.endswith("_US") else "cheque"


@dataclass(frozen=True)
class PortalSettings:
    """Sign-in, sessions and limits of the portal."""

    link_minutes: int = 15
    invite_link_hours: int = 72
    session_idle_minutes: int = 120
    session_absolute_hours: int = 12
    rate_limit_per_email: int = 5
    rate_limit_per_ip: int = 30
    page_size: int = 25
    admin_step_up_minutes: int = 15
    upload_max_mb: int = 50
    proxy_hops: int = 0
    metrics_allow: str = "127.0.0.1/8, ::1/128"


@dataclass(frozen=True)
class SmtpSettings:
    """Where sign-in links and invitations are sent from. No host: links are logged."""

    host: str = ""
    port: int = 587
    username: str = ""
    password: str = ""
    security: str = "starttls"
    from_address: str = ""
    timeout_seconds: int = 20
    max_attempts: int = 8
    retry_seconds: int = 30


@dataclass(frozen=True)
class SourceSettings(ApiKeys):
    """One place exports come from; its name is the identity namespace of its records."""

    name: str
    kind: str = "folder"
    path: str = ""
    bucket: str = ""
    prefix: str = ""
    endpoint_url: str = ""
    region: str = ""
    adapter: str = "auto"
    mode: str = "incremental"
    schedule: str = ""
    date_order: str = ""
    currency: str = ""
    review: bool = False
    columns: Mapping[str, str] = field(default_factory=dict)
    quiet_seconds: float = 5.0  # not money
    poll: bool = False
    document_patterns: tuple[str, ...] = ("{number}.*",)

    @property
    def location(self) -> str:
        """Return where the source reads from, as a person would write it."""
        if self.kind == "s3":
            return f"s3://{self.bucket}/{self.prefix}"
        return self.api_base if self.kind in API_KINDS else self.path

    @property
    def effective_schedule(self) -> str:
        """Return the schedule, or the default for the kind (S3 polls, folder rescans)."""
        if self.schedule:
            return self.schedule
        return DEFAULT_RESCAN_SCHEDULE if self.kind == "folder" else DEFAULT_S3_SCHEDULE


@dataclass(frozen=True)
class StorageSettings:
    """Where documents (invoice originals, job sheets, receipts) are kept."""

    backend: str = "local"
    bucket: str = ""
    prefix: str = ""
    endpoint_url: str = ""
    region: str = ""


@dataclass(frozen=True)
class RunnerSettings:
    """How ``billfold run`` workers share sources, schedules and retries."""

    housekeeping: str = "every 10 minutes"
    lease_seconds: int = 30
    renew_seconds: float = 5.0  # not money: how often held leases are renewed
    retry_seconds: int = 60
    max_attempts: int = 5
    download_attempts: int = 3
    download_backoff_seconds: float = 1.0  # not money
    timezone: str = ""
    purge_after_days: int = 7


@dataclass(frozen=True)
class NoticeSettings:
    """Statements and digests by email, to the contacts who opted in (``billfold run``)."""

    statement_day: int = 1
    digest: str = "weekly"
    schedule: str = "every 1 hour"


DIGESTS = ("daily", "weekly", "off")


@dataclass(frozen=True)
class LoggingSettings:
    """How billfold, gunicorn and Flask write their log lines."""

    format: str = "logfmt"  # logfmt (key=value) or json


@dataclass(frozen=True)
class Settings:
    """Everything billfold reads from configuration."""

    data_dir: Path = Path(DEFAULT_DATA_DIR)
    database_url: str = ""
    base_url: str = "http://127.0.0.1:8000"
    secret_key: str = ""
    default_currency: str = "USD"
    busy_timeout_seconds: int = 30
    business: BusinessSettings = field(default_factory=BusinessSettings)
    portal: PortalSettings = field(default_factory=PortalSettings)
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    storage: StorageSettings = field(default_factory=StorageSettings)
    runner: RunnerSettings = field(default_factory=RunnerSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    notices: NoticeSettings = field(default_factory=NoticeSettings)
    sources: tuple[SourceSettings, ...] = ()
    config_path: Path | None = None

    @property
    def resolved_database_url(self) -> str:
        """Return ``database_url``, or the embedded SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'billfold.db').resolve()}"

    def source(self, name: str) -> SourceSettings:
        """Return the configured source *name*, or a plain one for ad-hoc imports."""
        for source in self.sources:
            if source.name == name:
                return source
        return SourceSettings(name=name)


_NOT_FROM_FILE = {"config_path"}
_TABLES = {
    "business": BusinessSettings,
    "portal": PortalSettings,
    "smtp": SmtpSettings,
    "logging": LoggingSettings,
    "storage": StorageSettings,
    "runner": RunnerSettings,
    "notices": NoticeSettings,
}


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp is str:
        return "a string"
    if tp is bool:
        return "true or false"
    if tp is int:
        return "a whole number"
    if tp is float:
        return "a number"
    if tp is Path:
        return "a path (string)"
    if origin in (Mapping, dict):
        return "a table of strings"
    if origin is tuple:
        return "a list of strings"
    return str(tp)


def _coerce(value: Any, tp: Any, key: str, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key, where)
    ok = (
        (tp is str and isinstance(value, str))
        or (tp is bool and isinstance(value, bool))
        or (tp is int and isinstance(value, int) and not isinstance(value, bool))
        or (
            tp is float
            and isinstance(value, int | float)
            and not isinstance(value, bool)
        )
        or (tp is Path and isinstance(value, str))
        or (
            origin is tuple
            and isinstance(value, list)
            and all(isinstance(v, str) for v in value)
        )
        or (
            origin in (Mapping, dict)
            and isinstance(value, dict)
            and all(isinstance(v, str) for v in value.values())
        )
    )
    if not ok:
        raise ConfigError(f"{key} in {where} must be {_describe(tp)}, not {value!r}")
    if tp is Path:
        return Path(value)
    if tp is float:
        return float(value)  # not money: durations in seconds
    if origin is tuple:
        return tuple(value)
    if origin in (Mapping, dict):
        return dict(value)
    return value


def _build(cls: type, table: Mapping[str, Any], prefix: str, where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.name not in _NOT_FROM_FILE}
    for key in table:
        if key not in known:
            options = ", ".join(sorted(known))
            raise ConfigError(
                f"unknown setting {prefix}{key} in {where}; known settings here: {options}"
            )
    values = {}
    for name, f in known.items():
        tp = hints[name]
        if name in table:
            values[name] = _coerce(table[name], tp, f"{prefix}{name}", where)
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ConfigError(f"{prefix}{name} is required in {where}")
    return cls(**values)


def _parse_env_value(text: str, tp: Any, key: str) -> Any:
    if tp is bool:
        lowered = text.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key} must be true or false, not {text!r}")
    if tp is int:
        try:
            return int(text)
        except ValueError:
            raise ConfigError(f"{key} must be a whole number, not {text!r}") from None
    if tp is float:
        try:
            return float(text)  # not money: durations in seconds
        except ValueError:
            raise ConfigError(f"{key} must be a number, not {text!r}") from None
    if tp is Path:
        return Path(text)
    return text


def _env_overrides(obj: Any, env: Mapping[str, str], prefix: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    changes = {}
    for f in fields(obj):
        tp = hints[f.name]
        if f.name in _NOT_FROM_FILE or f.name == "sources":
            continue
        var = f"{prefix}{f.name.upper()}"
        if is_dataclass(getattr(obj, f.name)):
            changes[f.name] = _env_overrides(getattr(obj, f.name), env, f"{var}_")
            continue
        text = env.get(var, "")
        if text != "" and tp in (str, bool, int, float, Path):
            changes[f.name] = _parse_env_value(text, tp, var)
    return replace(obj, **changes) if changes else obj


def allowed_networks(
    text: str,
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Parse ``portal.metrics_allow``: networks (or addresses) separated by commas."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in text.split(",")
        if part.strip()
    )


def _check_networks(text: str, where: str) -> None:
    try:
        allowed_networks(text)
    except ValueError as exc:
        raise ConfigError(
            f"portal.metrics_allow in {where} must be networks separated by commas, "
            f'such as "127.0.0.1/8, ::1/128, 10.0.0.0/8" (empty: nobody): {exc}'
        ) from exc


def _check(settings: Settings, where: str) -> None:
    from schemas.money import is_currency_code, is_locale

    if not is_currency_code(settings.default_currency):
        raise ConfigError(
            f"default_currency in {where} must be an ISO code such as USD, "
            f"not {settings.default_currency!r}"
        )
    if settings.busy_timeout_seconds <= 0:
        raise ConfigError(f"busy_timeout_seconds in {where} must be greater than 0")
    if settings.smtp.security not in ("starttls", "ssl", "none"):
        raise ConfigError(
            f"smtp.security in {where} must be starttls, ssl or none, "
            f"not {settings.smtp.security!r}"
        )
    for name in ("timeout_seconds", "max_attempts", "retry_seconds"):
        if getattr(settings.smtp, name) <= 0:
            raise ConfigError(f"smtp.{name} in {where} must be greater than 0")
    if settings.logging.format not in ("logfmt", "json"):
        raise ConfigError(
            f'logging.format in {where} must be "logfmt" or "json", '
            f"not {settings.logging.format!r}"
        )
    _check_networks(settings.portal.metrics_allow, where)
    for f in fields(settings.portal):
        if f.name in ("proxy_hops", "metrics_allow"):
            continue
        if getattr(settings.portal, f.name) <= 0:
            raise ConfigError(f"portal.{f.name} in {where} must be greater than 0")
    if not 0 <= settings.portal.proxy_hops <= 10:
        raise ConfigError(
            f"portal.proxy_hops in {where} must be between 0 (no proxy in front) and "
            f"10, not {settings.portal.proxy_hops!r}"
        )
    if settings.business.paper.lower() not in ("letter", "a4"):
        raise ConfigError(
            f'business.paper in {where} must be "letter" or "a4", '
            f"not {settings.business.paper!r}"
        )
    if not is_locale(settings.business.locale):
        raise ConfigError(
            f"business.locale in {where} must be a locale name such as en_US, en_GB, "
            f"de_DE or fr_CA (language_TERRITORY), not {settings.business.locale!r}; "
            "BILLFOLD_BUSINESS_LOCALE overrides it"
        )
    seen: set[str] = set()
    for i, source in enumerate(settings.sources):
        key = f"sources[{i}] ({source.name!r})"
        if not source.name.strip():
            raise ConfigError(f"sources[{i}].name in {where} must not be empty")
        if source.name in seen:
            raise ConfigError(f"{key} in {where}: two sources share this name")
        seen.add(source.name)
        if source.kind not in SOURCE_KINDS:
            raise ConfigError(
                f"{key}.kind in {where} must be one of {', '.join(SOURCE_KINDS)}, "
                f"not {source.kind!r}"
            )
        if source.mode not in MODES:
            raise ConfigError(
                f"{key}.mode in {where} must be one of {', '.join(MODES)}, "
                f"not {source.mode!r}"
            )
        if source.date_order and source.date_order not in DATE_ORDERS:
            raise ConfigError(
                f"{key}.date_order in {where} must be one of {', '.join(DATE_ORDERS)}, "
                f"not {source.date_order!r}"
            )
        if source.currency and not is_currency_code(source.currency):
            raise ConfigError(
                f"{key}.currency in {where} must be an ISO code such as USD, "
                f"not {source.currency!r}"
            )
        if source.kind == "folder" and not source.path:
            raise ConfigError(f"{key}.path in {where} is required for a folder source")
        if source.kind == "s3" and not source.bucket:
            raise ConfigError(f"{key}.bucket in {where} is required for an s3 source")
        if not 0 <= source.quiet_seconds <= 86400:
            raise ConfigError(
                f"{key}.quiet_seconds in {where} must be between 0 and 86400, "
                f"not {source.quiet_seconds!r}"
            )
        _check_schedule(source.schedule, f"{key}.schedule", where)
        check_api_source(source, settings.sources, key, where)
        for pattern in source.document_patterns:
            if pattern.count("{number}") != 1:
                raise ConfigError(
                    f"{key}.document_patterns in {where}: {pattern!r} must contain "
                    '"{number}" exactly once, e.g. "INV-{number}.pdf"'
                )
    _check_storage(settings.storage, where)
    _check_runner(settings.runner, where)
    _check_notices(settings.notices, where)


def _check_notices(notices: NoticeSettings, where: str) -> None:
    if not 0 <= notices.statement_day <= 28:
        raise ConfigError(
            f"notices.statement_day in {where} must be a day of the month from 1 to 28 "
            f"(0: no monthly statements), not {notices.statement_day!r}"
        )
    if notices.digest not in DIGESTS:
        raise ConfigError(
            f"notices.digest in {where} must be one of {', '.join(DIGESTS)}, "
            f"not {notices.digest!r}"
        )
    if not notices.schedule:
        raise ConfigError(f"notices.schedule in {where} must not be empty")
    _check_schedule(notices.schedule, "notices.schedule", where)


def _check_schedule(text: str, key: str, where: str) -> None:

    if not text:
        return
    try:
        parse_schedule(text)
    except ConfigError as exc:
        raise ConfigError(f"{key} in {where}: {exc}") from None


def _check_storage(storage: StorageSettings, where: str) -> None:
    if storage.backend not in STORAGE_BACKENDS:
        raise ConfigError(
            f"storage.backend in {where} must be one of {', '.join(STORAGE_BACKENDS)}, "
            f"not {storage.backend!r}"
        )
    if storage.backend == "s3" and not storage.bucket:
        raise ConfigError(
            f'storage.bucket in {where} is required when storage.backend = "s3"'
        )


def _check_runner(runner: RunnerSettings, where: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    for name in ("lease_seconds", "retry_seconds", "max_attempts", "download_attempts"):
        if getattr(runner, name) <= 0:
            raise ConfigError(f"runner.{name} in {where} must be greater than 0")
    if not 0 < runner.renew_seconds < runner.lease_seconds:
        raise ConfigError(
            f"runner.renew_seconds in {where} must be greater than 0 and less than "
            f"runner.lease_seconds ({runner.lease_seconds}), so a live worker's leases "
            "never run out"
        )
    if runner.download_backoff_seconds < 0:
        raise ConfigError(
            f"runner.download_backoff_seconds in {where} must not be negative"
        )
    if runner.purge_after_days < 0:
        raise ConfigError(f"runner.purge_after_days in {where} must not be negative")
    if not runner.housekeeping:
        raise ConfigError(f"runner.housekeeping in {where} must not be empty")
    _check_schedule(runner.housekeeping, "runner.housekeeping", where)
    if runner.timezone:
        try:
            ZoneInfo(runner.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"runner.timezone in {where} must be a time zone name such as "
                f'"Europe/London", not {runner.timezone!r}'
            ) from None


def load_settings(
    path: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Read settings from *path* (or ``BILLFOLD_CONFIG``), then environment overrides.

    With no file at all, billfold runs on the embedded default: SQLite and documents
    under ``./billfold-data/``. Relative paths in a file are relative to that file.
    """
    env = os.environ if env is None else env
    if path is None and env.get("BILLFOLD_CONFIG"):
        path = env["BILLFOLD_CONFIG"]
    table: dict[str, Any] = {}
    where = "the defaults"
    base = Path.cwd()
    config_path = None
    if path is not None:
        config_path = Path(path).resolve()
        where = str(config_path)
        try:
            with config_path.open("rb") as fh:
                table = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(
                f"config file {config_path} does not exist; copy config.example.toml "
                "there or leave --config out to use the defaults"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path} is not valid TOML: {exc}") from None
        base = config_path.parent
    sources_table = table.pop("sources", [])
    if not isinstance(sources_table, list) or not all(
        isinstance(s, dict) for s in sources_table
    ):
        raise ConfigError(f"sources in {where} must be written as [[sources]] tables")
    tables = {}
    for name, cls in _TABLES.items():
        sub = table.pop(name, {})
        if not isinstance(sub, dict):
            raise ConfigError(f"{name} in {where} must be a [{name}] table")
        tables[name] = _build(cls, sub, f"{name}.", where)
    settings: Settings = _build(Settings, table, "", where)
    sources = tuple(
        _build(SourceSettings, s, f"sources[{i}].", where)
        for i, s in enumerate(sources_table)
    )
    settings = replace(settings, **tables, sources=sources, config_path=config_path)
    settings = _env_overrides(settings, env, "BILLFOLD_")
    data_dir = settings.data_dir
    if not data_dir.is_absolute():
        data_dir = (base / data_dir).resolve()
    resolved_sources = tuple(
        replace(s, path=str((base / s.path).resolve())) if s.path else s
        for s in settings.sources
    )
    settings = replace(settings, data_dir=data_dir, sources=resolved_sources)
    _check(settings, where)
    return settings
