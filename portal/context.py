"""The portal's per-app state (settings, store, mailer) and per-request helpers."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request

from sync.access.sender import OutboxSender
from sync.config import Settings
from sync.store import Store


@dataclass
class Portal:
    """What every view needs, built once by ``create_app``."""

    settings: Settings
    store: Store
    mailer: OutboxSender


def portal() -> Portal:
    """Return the running app's Portal."""
    return current_app.extensions["billfold"]


def client_ip() -> str | None:
    """The client's address: the peer's, or with ``[portal] proxy_hops`` the one the
    trusted proxies forwarded (``create_app`` installs ProxyFix for them). With no
    trusted proxy, X-Forwarded-For is ignored: a client cannot choose its address."""
    return request.remote_addr
