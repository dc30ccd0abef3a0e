"""Run the portal under gunicorn.

The portal is loaded by name (``portal.wsgi:app``), the way any WSGI server loads an
application, so the sync engine never imports the portal. Settings reach the workers
through ``BILLFOLD_CONFIG`` and ``BILLFOLD_*`` variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from sync.errors import UsageError

APP = "portal.wsgi:app"


def run_server(
    config_path: str | None,
    host: str,
    port: int,
    workers: int,
    env: Mapping[str, str] | None = None,
) -> None:
    """Serve the portal until interrupted."""
    try:
        from gunicorn.app.base import BaseApplication
        from gunicorn.util import import_app
    except ImportError as exc:  # pragma: no cover - gunicorn is a dependency on POSIX
        raise UsageError("gunicorn is not installed; `pip install gunicorn`") from exc
    if config_path:
        os.environ["BILLFOLD_CONFIG"] = str(config_path)
    for key, value in (env or {}).items():
        os.environ[key] = value

    class _Portal(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", max(1, workers))
            self.cfg.set("worker_class", "sync")
            self.cfg.set("accesslog", "-")
            self.cfg.set("timeout", 60)
            self.cfg.set("graceful_timeout", 20)
            self.cfg.set("forwarded_allow_ips", "127.0.0.1")

        def load(self):  # type: ignore[no-untyped-def]
            return import_app(APP)

    _Portal().run()
