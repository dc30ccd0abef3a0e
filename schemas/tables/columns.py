"""Column helpers the store's tables share: money, naive-UTC timestamps, references."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, Integer
from sqlmodel import Field


def utcnow() -> datetime:
    """Return the current time as naive UTC, the form every timestamp is stored in."""
    return datetime.now(UTC).replace(tzinfo=None)


def money(**kwargs: Any) -> Any:
    """A money column: integer minor units, ``None`` when unknown."""
    return Field(default=None, sa_type=BigInteger, **kwargs)


def when(*, required: bool = False, **kwargs: Any) -> Any:
    """A naive-UTC timestamp column (never ``timestamptz``: one meaning on every database)."""
    if required:
        return Field(default_factory=utcnow, sa_type=DateTime(), **kwargs)
    return Field(default=None, sa_type=DateTime(), **kwargs)


def ref(target: str, **kwargs: Any) -> Any:
    """A foreign key column that is an index too."""
    return Field(
        default=None,
        sa_column=Column(Integer, ForeignKey(target), index=True, **kwargs),
    )
