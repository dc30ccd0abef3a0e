"""Which adapter reads a file: the built-in tuple, plugins, and detection.

Exactly one adapter may claim a file. None → "unrecognised file, expected one of …";
two or more → an error naming each claimant, because guessing between two readings of
a billing export is how amounts end up wrong.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from adapters import BUILTIN_ADAPTERS
from adapters.base import Adapter, Head
from adapters.errors import FileRejected

ENTRY_POINT_GROUP = "billfold.adapters"


def all_adapters() -> tuple[type[Adapter], ...]:
    """Return the built-in adapters followed by any installed through the entry point."""
    plugins = tuple(ep.load() for ep in entry_points(group=ENTRY_POINT_GROUP))
    return BUILTIN_ADAPTERS + plugins


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


def detect_adapter(head: Head) -> type[Adapter]:
    """Return the one adapter that claims *head*; raise FileRejected for none or several."""
    adapters = all_adapters()
    claimants = [a for a in adapters if _claims(a, head)]
    if len(claimants) == 1:
        return claimants[0]
    if not claimants:
        expected = "; ".join(f"{a.label} ({a.name})" for a in adapters)
        raise FileRejected(f"unrecognised file: expected one of {expected}")
    names = ", ".join(f"{a.label} ({a.name})" for a in claimants)
    raise FileRejected(
        f"more than one adapter claims this file ({names}); choose one with "
        '--adapter or adapter = "..." in the source\'s config'
    )
