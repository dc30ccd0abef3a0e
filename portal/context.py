"""The portal's per-app state (settings, store, mailer) and per-request helpers."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request

from portal.mailer import Mailer
from sync.config import Settings
from sync.store import Store


@dataclass
class Portal:
    """What every view needs, built once by ``create_app``."""

    settings: Settings
    store: Store
    mailer: Mailer


def portal() -> Portal:
    """Return the running app's Portal."""
    return current_app.extensions["billfold"]


def client_ip() -> str | None:
    """The client's address as the WSGI server saw it (behind a proxy: ProxyFix it)."""
    return request.remote_addr
