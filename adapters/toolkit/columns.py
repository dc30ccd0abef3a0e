"""Map an export's header to canonical column names, by normalised name, never position."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from functools import lru_cache

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


@lru_cache(maxsize=4096)
def normalise_header(name: str) -> str:
    """Return a header's comparison form: no BOM, no ``*``, lower case, letters and digits."""
    text = unicodedata.normalize("NFKC", name.replace("\ufeff", "")).lower()
    return _NOT_ALNUM.sub("", text)


def map_columns(
    header: Sequence[str],
    synonyms: Mapping[str, Sequence[str]],
    configured: Mapping[str, str] | None = None,
) -> tuple[dict[str, int], list[str]]:
    """Return ``{canonical: index}`` for *header* and the list of duplicate-mapping problems.

    *synonyms* maps each canonical name to the normalised header names that mean it (the
    canonical name itself always counts). *configured* maps canonical names to header
    names chosen by the admin, and wins over synonyms.
    """
    by_norm: dict[str, int] = {}
    problems: list[str] = []
    for index, name in enumerate(header):
        norm = normalise_header(name)
        if not norm:
            continue
        if norm in by_norm:
            problems.append(f"header {name!r} appears twice")
            continue
        by_norm[norm] = index
    found: dict[str, int] = {}
    taken: set[int] = set()
    for canonical, header_name in (configured or {}).items():
        index = by_norm.get(normalise_header(header_name))
        if index is None:
            problems.append(
                f"configured column {canonical} = {header_name!r} is not in the header"
            )
            continue
        found[canonical] = index
        taken.add(index)
    for canonical, names in synonyms.items():
        if canonical in found:
            continue
        for norm in (normalise_header(canonical), *names):
            index = by_norm.get(norm)
            if index is not None and index not in taken:
                found[canonical] = index
                taken.add(index)
                break
    return found, problems


def nfc_key(text: str) -> str:
    """Return the identity form of a name: NFC-normalised, outer spaces removed, case kept."""
    return unicodedata.normalize("NFC", text).strip()
