"""The columns an adapter reads: declared by canonical name, found in a header by name.

A header is matched by normalised names (case, spaces, punctuation, a leading ``*`` and
a BOM ignored), never by position; a source's configuration may name the header of any
column.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

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
        at = by_norm.get(normalise_header(header_name))
        if at is None:
            problems.append(
                f"configured column {canonical} = {header_name!r} is not in the header"
            )
            continue
        found[canonical] = at
        taken.add(at)
    for canonical, names in synonyms.items():
        if canonical in found:
            continue
        for norm in (normalise_header(canonical), *names):
            at = by_norm.get(norm)
            if at is not None and at not in taken:
                found[canonical] = at
                taken.add(at)
                break
    return found, problems


def nfc_key(text: str) -> str:
    """Return the identity form of a name: NFC-normalised, outer spaces removed, case kept."""
    return unicodedata.normalize("NFC", text).strip()


Kind = Literal["text", "amount", "date", "timestamp", "flag", "currency"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column a tabular adapter reads.

    ``synonyms`` are the normalised header names (``columns.normalise_header``) that
    mean it besides its own name. ``kind`` says what its cells become (``Values``).
    A ``required`` column must be in the header. A ``line`` column may differ between
    the rows of one record (the lines of one invoice); every other column must agree.
    ``fields`` are the billfold fields it fills (``schemas.limits``), so that a value
    too long for one is reported under the export's own column name.
    """

    name: str
    synonyms: tuple[str, ...] = ()
    kind: Kind = "text"
    required: bool = False
    line: bool = False
    fields: tuple[str, ...] = ()


class Columns:
    """A table's declared columns, in the order their synonyms are tried."""

    def __init__(self, *columns: Column) -> None:
        self.declared = {c.name: c for c in columns}
        self.synonyms = {c.name: c.synonyms for c in columns}
        self.required = tuple(c.name for c in columns if c.required)
        self.dated = tuple(c.name for c in columns if c.kind == "date")

    def kind(self, name: str) -> Kind:
        """How the cells of *name* convert (a configured column no one declared: text)."""
        column = self.declared.get(name)
        return column.kind if column is not None else "text"

    def is_line(self, name: str) -> bool:
        """True for a column whose cells may differ between the rows of one record."""
        column = self.declared.get(name)
        return column is not None and column.line

    def map(
        self, cells: Sequence[str], configured: Mapping[str, str] | None = None
    ) -> tuple[dict[str, int], list[str]]:
        """Return ``{name: index}`` for a header and the problems mapping it met."""
        return map_columns(cells, self.synonyms, configured)

    def missing(self, found: Mapping[str, int]) -> list[str]:
        """Return the required columns *found* lacks."""
        return [c for c in self.required if c not in found]
