"""What every command shares: settings and the store, opened once, and one way to fail."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from sync.config import Settings, load_settings
from sync.errors import ConfigError, StoreError, SyncError, UsageError
from sync.store import Store, open_store


class Context:
    """Settings and the store, opened (and migrated) on first use."""

    def __init__(self, config: str | None) -> None:
        self.config_path = config
        self._settings: Settings | None = None
        self._store: Store | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            from sync.log import use_format

            self._settings = load_settings(self.config_path)
            use_format(self._settings.logging.format)  # -v lines too
        return self._settings

    def store(self, migrate: bool = True) -> Store:
        if self._store is None:
            from sync.store.migrate import ensure_current

            self._store = open_store(self.settings)
            if migrate:
                ensure_current(self._store)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.dispose()
            self._store = None


pass_context = click.make_pass_decorator(Context)


def fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def guard(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn billfold's own errors into one clear line and an exit code."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except ConfigError as exc:
            fail(str(exc), 2)
        except UsageError as exc:
            fail(str(exc), 2)
        except (StoreError, SyncError) as exc:
            fail(str(exc), 1)

    return wrapper
