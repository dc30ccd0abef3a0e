"""What a request asks for, read strictly: record ids, dates and page numbers.

Every value a person can type into a URL or a form is read here. An id the store cannot
hold (past the signed 64-bit range of its integer columns) names no record: a 404, as
for any id that does not exist. A date or number that cannot be read is a 400 whose page
says which value was wrong and how to write it; it is never silently dropped, so a
filter never shows more than was asked for without saying so.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any, overload

from flask import abort, request
from werkzeug.routing import IntegerConverter, Map, Rule

ID_MAX = 2**63 - 1  # the largest value of a signed 64-bit integer column
PAGE_MAX = 100_000


class IdConverter(IntegerConverter):
    """``<id:name>``: a record id; past what the store can hold, the URL matches nothing."""

    def __init__(self, map: Map, *args: object, **kwargs: object) -> None:
        super().__init__(map, min=0, max=ID_MAX)


class PortalRule(Rule):
    """A URL rule whose URL builders are compiled when a URL is first built for it.

    Werkzeug compiles two builders (Python source, then bytecode) per rule as the rule
    is added: most of the cost of building an app, for rules a worker may never build a
    URL to. A werkzeug without the hook just compiles them eagerly, as it always has.
    """

    def _compile_builder(self, append_unknown: bool = True) -> Any:
        compiled: Any = None

        def build(rule: Rule, **values: Any) -> Any:
            nonlocal compiled
            if compiled is None:  # two threads may both compile: the same function
                compiled = Rule._compile_builder(rule, append_unknown)
            return compiled(rule, **values)

        return build


def record_id(text: str | None) -> int | None:
    """An id from a form or query string, or None when it cannot name a record."""
    if text is None:
        return None
    digits = text.strip()
    if not digits.isascii() or not digits.isdigit():
        return None
    digits = digits.lstrip("0") or "0"
    if len(digits) > 19:
        return None
    value = int(digits)
    return value if value <= ID_MAX else None


@overload
def choice(name: str, choices: Collection[str], default: str) -> str: ...
@overload
def choice(name: str, choices: Collection[str], default: None) -> str | None: ...
def choice(name: str, choices: Collection[str], default: str | None) -> str | None:
    """The query-string value *name*, one of *choices* (*default* when absent)."""
    value = request.args.get(name) or default
    if value is not None and value not in choices:
        abort(400, description=f"Choose the {name} from: {', '.join(choices)}.")
    return value


def id_filter(text: str | None, label: str) -> int | None:
    """A record id to filter by (None when empty); anything else is a 400."""
    if text is None or not text.strip():
        return None
    value = record_id(text)
    if value is None:
        abort(
            400,
            description=f"The {label} {text[:40]!r} is not a record id: use the "
            "whole number shown on the record's page.",
        )
    return value


def day(text: str | None, label: str) -> date | None:
    """The date in *text* (YYYY-MM-DD), None when empty; anything else is a 400."""
    if text is None or not text.strip():
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        abort(
            400,
            description=f"The {label} date {text[:40]!r} is not a date. Write it as "
            "YYYY-MM-DD (for example 2025-03-31) and try again.",
        )


def page(text: str | None) -> int:
    """A page number (1 when absent); anything but a whole number from 1 is a 400."""
    if text is None or not text.strip():
        return 1
    digits = text.strip()
    if digits.isascii() and digits.isdigit():
        digits = digits.lstrip("0")
        if digits:
            return PAGE_MAX if len(digits) > 6 else min(int(digits), PAGE_MAX)
    abort(
        400,
        description=f"The page number {text[:40]!r} is not a page: use a whole "
        "number from 1.",
    )
