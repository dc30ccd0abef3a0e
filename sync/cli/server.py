"""Run the portal under gunicorn.

The portal is loaded by name (``portal.wsgi:app``), the way any WSGI server loads an
application, so the sync engine never imports the portal. Settings reach the workers
through ``BILLFOLD_CONFIG`` and ``BILLFOLD_*`` variables.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from sync.errors import UsageError
from sync.log import configure as configure_logging

APP = "portal.wsgi:app"


def run_server(
    config_path: str | None,
    host: str,
    port: int,
    workers: int,
    env: Mapping[str, str] | None = None,
) -> None:
    """Serve the portal until interrupted.

    Every event goes to stderr, one line each, whatever ``-v`` says: a server's
    stderr is its log, and with no SMTP host the sign-in and invitation links are
    there (``event=mail.not_sent ... link=...``) for the operator to pass on. gunicorn
    gets ``sync.serving``'s settings: billfold's log format, and metrics in
    multiprocess mode (a fresh ``PROMETHEUS_MULTIPROC_DIR``).
    """
    configure_logging(logging.INFO)
    try:
        from gunicorn.app.base import BaseApplication
        from gunicorn.util import import_app

        from sync import serving
    except ImportError as exc:  # pragma: no cover - gunicorn is a dependency on POSIX
        raise UsageError("gunicorn is not installed; `pip install gunicorn`") from exc
    if config_path:
        os.environ["BILLFOLD_CONFIG"] = str(config_path)
    for key, value in (env or {}).items():
        os.environ[key] = value

    class _Portal(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", max(1, workers))
            self.cfg.set("worker_class", "sync")
            self.cfg.set("accesslog", serving.accesslog)
            self.cfg.set("timeout", serving.timeout)
            self.cfg.set("graceful_timeout", serving.graceful_timeout)
            self.cfg.set("forwarded_allow_ips", "127.0.0.1")
            self.cfg.set("logger_class", serving.Logger)
            self.cfg.set("on_starting", serving.on_starting)
            self.cfg.set("child_exit", serving.child_exit)

        def load(self):
            return import_app(APP)

    _Portal().run()
