"""Schedules as people write them: ``every 15 minutes`` or a five-field cron line."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC

from apscheduler.triggers.cron import CronTrigger

from sync.errors import ConfigError

_EVERY = re.compile(
    r"every\s+(?:(?P<n>\d+)\s+)?(?P<unit>second|minute|hour|day)s?", re.IGNORECASE
)
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


@dataclass(frozen=True)
class Schedule:
    """A parsed schedule: a fixed interval, or a cron line."""

    text: str
    interval_seconds: int | None = None
    cron: str | None = None


def parse_schedule(text: str) -> Schedule:
    """Parse ``every N minutes`` (seconds, hours, days) or a five-field cron line."""
    cleaned = " ".join(text.split())
    match = _EVERY.fullmatch(cleaned)
    if match:
        n = int(match["n"] or 1)
        if n <= 0:
            raise ConfigError(
                f'{text!r}: the interval must be at least 1, as in "every 15 minutes"'
            )
        return Schedule(
            cleaned, interval_seconds=n * _UNIT_SECONDS[match["unit"].lower()]
        )
    if len(cleaned.split(" ")) == 5:
        try:
            CronTrigger.from_crontab(cleaned, timezone=UTC)
        except ValueError as exc:
            raise ConfigError(f"{text!r} is not a valid cron line: {exc}") from None
        return Schedule(cleaned, cron=cleaned)
    raise ConfigError(
        f'{text!r} is not a schedule; write "every 15 minutes", "every 1 hour" or a '
        'five-field cron line such as "0 6 * * *"'
    )
