"""Which adapter reads a file: the built-in tuple, plugins, and detection.

Exactly one adapter may claim a file. None → "unrecognised file, expected one of …",
saying which format the file most resembles and what it lacks when an adapter can tell
(``resemblance``);
two or more → an error naming each claimant, because guessing between two readings of
a billing export is how amounts end up wrong.

Built-in adapters and plugins are asked alike. An adapter with ``fallback = True``
(generic CSV) is asked only when no other adapter claims the file, so a vendor's
adapter needs nothing from the fallback to win its own files. An adapter may declare
``markers``: normalised header names only its vendor writes. The fallback leaves a
file whose first row holds one of them alone, even when no adapter claims it: such a
file is a vendor export that its adapter cannot read, not billfold's own contract.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib.metadata import entry_points

from adapters import BUILTIN_ADAPTERS
from adapters.base import Adapter, Head, Resemblance
from adapters.errors import FileRejected
from adapters.toolkit.columns import normalise_header
from adapters.toolkit.tabular import first_row

ENTRY_POINT_GROUP = "billfold.adapters"


def all_adapters() -> tuple[type[Adapter], ...]:
    """Return the built-in adapters followed by any installed through the entry point
    (read once per process and import path, as plugins are installed before a start)."""
    return BUILTIN_ADAPTERS + _plugins(tuple(sys.path))


@lru_cache(maxsize=4)
def _plugins(path: tuple[str, ...]) -> tuple[type[Adapter], ...]:
    """The plugins installed on *path* (the import path: the key, so a path that
    changes is read again)."""
    return tuple(ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP))


def get_adapter(name: str) -> type[Adapter]:
    """Return the adapter called *name*, or raise FileRejected listing the known names."""
    adapters = all_adapters()
    for adapter in adapters:
        if adapter.name == name:
            return adapter
    known = ", ".join(a.name for a in adapters)
    raise FileRejected(f"no adapter is called {name!r}; known adapters: {known}")


def _claims(adapter: type[Adapter], head: Head) -> bool:
    """Ask one adapter; a detect() that trips over odd bytes simply does not claim."""
    try:
        return bool(adapter.detect(head))
    except Exception:
        return False


def _is_fallback(adapter: type[Adapter]) -> bool:
    return bool(getattr(adapter, "fallback", False))


def _marked(head: Head, adapters: tuple[type[Adapter], ...]) -> bool:
    """True when the head's first row holds a header another adapter marks as its own."""
    markers = frozenset().union(*(getattr(a, "markers", ()) for a in adapters))
    first = first_row(head.text) if markers else None
    return first is not None and bool({normalise_header(c) for c in first} & markers)


def _nearest(
    head: Head, adapters: tuple[type[Adapter], ...]
) -> tuple[type[Adapter], Resemblance] | None:
    """The adapter whose format the file most resembles (first on a tie), if any."""
    best: tuple[type[Adapter], Resemblance] | None = None
    for adapter in adapters:
        ask = getattr(adapter, "resemblance", None)
        try:
            found = ask(head) if ask is not None else None
        except Exception:  # a plugin's resemblance that trips says nothing
            found = None
        if isinstance(found, Resemblance) and (
            best is None or found.score > best[1].score
        ):
            best = (adapter, found)
    return best


def detect_adapter(head: Head) -> type[Adapter]:
    """Return the one adapter that claims *head*; raise FileRejected for none or several."""
    adapters = all_adapters()
    specific = tuple(a for a in adapters if not _is_fallback(a))
    claimants = [a for a in specific if _claims(a, head)]
    if not claimants and not _marked(head, specific):
        claimants = [a for a in adapters if _is_fallback(a) and _claims(a, head)]
    if len(claimants) == 1:
        return claimants[0]
    if not claimants:
        expected = "; ".join(f"{a.label} ({a.name})" for a in adapters)
        nearest = _nearest(head, adapters)
        if nearest is None:
            raise FileRejected(f"unrecognised file: expected one of {expected}")
        adapter, resemblance = nearest
        raise FileRejected(
            f"unrecognised file: it most resembles {adapter.label} ({adapter.name}), "
            f"but it {resemblance.lacks}. Expected one of {expected}"
        )
    names = ", ".join(f"{a.label} ({a.name})" for a in claimants)
    raise FileRejected(
        f"more than one adapter claims this file ({names}); choose one with "
        '--adapter or adapter = "..." in the source\'s config'
    )
