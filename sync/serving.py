"""gunicorn settings for the portal: one log format, and metrics that add up the workers.

``billfold serve`` uses these; so can a plain gunicorn, as a config module::

    gunicorn -c python:sync.serving -w 4 -b 0.0.0.0:8000 'portal.wsgi:app'

* ``Logger`` writes gunicorn's own lines and its access log in billfold's format
  (``sync.log``: logfmt, or JSON with ``[logging] format = "json"``); an access line is
  ``event=http.access`` with the request's id (the portal's ``X-Request-ID``), and a
  sign-in link's secret in a path is redacted. Everything goes to stderr (the access
  log too, which gunicorn would write to stdout).
* ``on_starting`` gives the workers a fresh ``PROMETHEUS_MULTIPROC_DIR`` (unless one is
  set: then it is emptied), so ``/metrics`` adds up every worker; ``child_exit`` tells
  prometheus-client a worker is gone.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger as _GunicornLogger

from sync.log import LineFormatter, configure, redact

accesslog = "-"
timeout = 60
graceful_timeout = 20
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Logger(_GunicornLogger):
    """gunicorn's logger, writing billfold's lines."""

    def setup(self, cfg: Any) -> None:
        """Set gunicorn's handlers up as usual, then give them billfold's format."""
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(LineFormatter())
                # accesslog "-" is stdout to gunicorn; billfold's log is stderr, whole
                stream = getattr(handler, "stream", None)
                if stream is sys.stdout and isinstance(handler, logging.StreamHandler):
                    handler.setStream(sys.stderr)

    def access(self, resp: Any, req: Any, environ: dict, request_time: Any) -> None:
        """One ``event=http.access`` line per request."""
        if not self.cfg.accesslog:
            return
        headers = {k.lower(): v for k, v in (getattr(resp, "headers", None) or [])}
        status = str(getattr(resp, "status", "") or "").split(" ", 1)[0]
        seconds = request_time.total_seconds()
        fields = {
            "method": environ.get("REQUEST_METHOD"),
            "path": redact(environ.get("PATH_INFO") or "/"),
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "bytes": getattr(resp, "sent", None),
            "ip": environ.get("REMOTE_ADDR"),
            "request_id": headers.get("x-request-id"),
        }
        fields = {k: v for k, v in fields.items() if v is not None}
        extra = {"billfold_event": "http.access", "billfold_fields": fields}
        self.access_log.info("event=http.access", extra=extra)


def on_starting(server: Any) -> None:
    """Before the workers fork: billfold's log format, and a clean metrics folder."""
    fmt = None
    try:
        from sync.config import load_settings

        fmt = load_settings().logging.format
    except Exception:  # the workers load the settings again and say what is wrong
        fmt = None
    configure(logging.INFO, fmt)
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        for stale in Path(folder).glob("*.db"):
            stale.unlink(missing_ok=True)
    else:
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="billfold-metrics-")


def child_exit(server: Any, worker: Any) -> None:
    """A worker ended: its live gauges no longer count."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


logger_class = "sync.serving.Logger"
