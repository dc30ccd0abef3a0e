"""Structured logs: one line per event, ``event=... key=value`` (logfmt) or JSON.

Every line billfold, gunicorn and Flask write goes through ``LineFormatter``: a
timestamp, a level, then either billfold's event and fields or another logger's name
and message; ``[logging] format = "json"`` makes each line one JSON object instead.
While the portal answers a request, every line carries its ``request_id``.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import sys
from datetime import UTC, datetime

logger = logging.getLogger("billfold")
FORMATS = ("logfmt", "json")
# Loggers that share billfold's handler: the portal's Flask app and werkzeug.
OTHERS = ("portal", "werkzeug")
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "billfold_request_id", default=None
)
_format = "logfmt"
_SECRET_PATH = re.compile(r"(/(?:admin/)?sign-in/)[A-Za-z0-9_\-]+")


def redact(line: str) -> str:
    """Hide sign-in link secrets in a log line (access logs record request paths)."""
    return _SECRET_PATH.sub(r"\1[redacted]", line)


def _quote(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n\t'):
        text = (
            '"'
            + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            + '"'
        )
    return text


def event(name: str, level: int = logging.INFO, **fields: object) -> None:
    """Log event *name* with *fields* as one line."""
    if not logger.isEnabledFor(level):
        return
    fields = {k: v for k, v in fields.items() if v is not None}
    parts = [f"event={name}"] + [f"{k}={_quote(v)}" for k, v in fields.items()]
    # Handlers may read the event as data too (billfold demo prints sign-in links).
    extra = {"billfold_event": name, "billfold_fields": fields}
    logger.log(level, " ".join(parts), extra=extra)


class LineFormatter(logging.Formatter):
    """One line per record, logfmt or JSON, with the request id when there is one."""

    def __init__(self, kind: str | None = None) -> None:
        super().__init__()
        self.kind = kind

    def format(self, record: logging.LogRecord) -> str:
        """Render *record* as ``ts=... level=... event=...`` or a JSON object."""
        when = datetime.fromtimestamp(record.created, UTC)
        fields: dict[str, object] = {
            "ts": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
        }
        name = getattr(record, "billfold_event", None)
        if name is not None:
            fields["event"] = name
            fields.update(getattr(record, "billfold_fields", {}))
        else:
            fields["logger"] = record.name
            fields["msg"] = record.getMessage()
        rid = request_id.get() or getattr(record, "request_id", None)
        if rid and "request_id" not in fields:
            fields["request_id"] = rid
        if record.exc_info:
            fields["error"] = self.formatException(record.exc_info)
        if (self.kind or _format) == "json":
            return json.dumps(fields, default=str)
        return " ".join(f"{k}={_quote(v)}" for k, v in fields.items())


def handler() -> logging.Handler:
    """A stderr handler writing billfold's lines (gunicorn's logs use it too)."""
    out = logging.StreamHandler(sys.stderr)
    out.setFormatter(LineFormatter())
    out._billfold = True  # type: ignore[attr-defined]  # a mark on the handler: billfold installed it
    return out


def use_format(fmt: str) -> None:
    """Write every line from now on as *fmt*: ``logfmt`` or ``json`` (``[logging]``)."""
    global _format
    _format = fmt if fmt in FORMATS else "logfmt"


def configure(level: int = logging.INFO, fmt: str | None = None) -> None:
    """Send billfold's, Flask's and werkzeug's lines to stderr, one format (idempotent).

    *fmt* is ``logfmt`` or ``json`` (``[logging] format``); None keeps the current one.
    """
    if fmt is not None:
        use_format(fmt)
    for name in ("billfold", *OTHERS):
        log = logging.getLogger(name)
        if not any(getattr(h, "_billfold", False) for h in log.handlers):
            log.addHandler(handler())
        log.propagate = False
        if name == "billfold":
            log.setLevel(level)
