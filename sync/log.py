"""Structured logs: one line per event, ``event=... key=value`` (logfmt)."""

from __future__ import annotations

import logging
import sys

logger = logging.getLogger("billfold")


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
    """Log event *name* with *fields* as one logfmt line."""
    if not logger.isEnabledFor(level):
        return
    fields = {k: v for k, v in fields.items() if v is not None}
    parts = [f"event={name}"] + [f"{k}={_quote(v)}" for k, v in fields.items()]
    # Handlers may read the event as data too (billfold demo prints sign-in links).
    extra = {"billfold_event": name, "billfold_fields": fields}
    logger.log(level, " ".join(parts), extra=extra)


def configure(level: int = logging.INFO) -> None:
    """Send billfold's log lines to stderr with a timestamp (idempotent)."""
    if any(getattr(h, "_billfold", False) for h in logger.handlers):
        logger.setLevel(level)
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("ts=%(asctime)s level=%(levelname)s %(message)s")
    )
    handler._billfold = True  # type: ignore[attr-defined]  # a mark on the handler: billfold installed it
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
