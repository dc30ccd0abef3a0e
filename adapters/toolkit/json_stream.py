"""Stream JSON exports: numbers as ``Decimal``, arrays item by item, errors as FileRejected.

API exports can hold hundreds of thousands of records; they are read with ijson as a
stream, never loaded whole. Numbers arrive as ``int`` or ``Decimal``, never ``float``.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Collection, Iterator
from typing import Any, BinaryIO

import ijson
from ijson.common import ObjectBuilder

from adapters.base import ExportFile
from adapters.errors import FileRejected

# No API export nests deeper than a dozen levels; past this length of path the file is
# refused, so a hostile nest (``[[[[...`` a million deep) cannot cost minutes of parsing.
# The parser names every event of a buffer before we see the first, so the buffer is
# small: a 64 KB buffer of ``[`` costs the C parser over a minute, 8 KB a tenth of a
# second, and ordinary exports parse as fast (measured on 100 MB).
_MAX_PATH = 4000
_BUFFER = 8192


def _too_deep(prefix: str) -> FileRejected:
    return FileRejected(
        f"the JSON nests deeper than any API export (at {prefix[:80]}...); expected a "
        "saved API answer as the service returned it"
    )


def iter_items(
    export: ExportFile, prefixes: Collection[str], keys_at: Collection[str] = ()
) -> Iterator[tuple[str, int, Any]]:
    """Yield ``(prefix, index, value)`` for every value found at one of *prefixes*.

    Prefixes use ijson's notation: ``"Invoices.item"`` is each element of the
    top-level ``Invoices`` array; ``"BatchItemResponse.item.QueryResponse.Invoice.item"``
    reaches into a batch envelope. The index counts items per prefix from 0, in file
    order, so a rejection can say which element it was. The keys of the objects at
    *keys_at* are yielded as ``(prefix + ".{}", index, key)``: what an envelope holds,
    read without building it.
    """
    wanted = set(prefixes)
    keyed = set(keys_at)
    counts: dict[str, int] = {}
    with utf8_binary(export) as file:
        events = ijson.parse(file, use_float=False, buf_size=_BUFFER)
        try:
            for prefix, event, value in events:
                if event == "map_key" and prefix in keyed:
                    yield prefix + ".{}", 0, value
                    continue
                if prefix not in wanted:
                    if len(prefix) > _MAX_PATH:
                        raise _too_deep(prefix)
                    continue
                index = counts.get(prefix, 0)
                counts[prefix] = index + 1
                if event in ("start_map", "start_array"):
                    builder = ObjectBuilder()
                    builder.event(event, value)
                    depth = 1
                    for inner_prefix, inner_event, inner_value in events:
                        if len(inner_prefix) > _MAX_PATH:
                            raise _too_deep(inner_prefix)
                        builder.event(inner_event, inner_value)
                        if inner_event in ("start_map", "start_array"):
                            depth += 1
                        elif inner_event in ("end_map", "end_array"):
                            depth -= 1
                            if depth == 0:
                                break
                    yield prefix, index, builder.value
                else:
                    yield prefix, index, value
        except ijson.JSONError as exc:
            raise FileRejected(
                f"the file is not valid JSON ({exc}); expected a complete API export "
                "(a cut-off download?)"
            ) from exc
        except (UnicodeDecodeError, ValueError) as exc:
            raise FileRejected(f"the file is not valid JSON: {exc}") from exc


class _Transcoder(io.RawIOBase):
    """Re-encode a text stream as UTF-8, the only encoding the JSON parser reads."""

    def __init__(self, raw: BinaryIO, codec: str) -> None:
        self._raw = raw
        self._decoder = codecs.getincrementaldecoder(codec)("strict")
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending and not self._done:
            chunk = self._raw.read(1 << 16)
            try:
                text = self._decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise FileRejected(
                    f"the file is not valid text in its encoding ({exc}); expected an "
                    "API export saved as UTF-8"
                ) from exc
            self._pending = text.encode("utf-8")
            self._done = not chunk
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def utf8_binary(export: ExportFile) -> BinaryIO:
    """Open *export* as UTF-8 bytes whatever encoding it was saved in.

    API responses are UTF-8, but saved copies pick up a BOM (PowerShell, Notepad), turn
    into UTF-16 (Windows PowerShell's ``>``) or Windows-1252 (an editor's "ANSI").
    """
    if export.encoding.codec is None:
        raise FileRejected(
            f"{export.encoding.problem or 'the file is not text'}; expected a JSON export"
        )
    raw = export.open_binary()
    if export.encoding.codec == "utf-8":
        return raw
    return io.BufferedReader(_Transcoder(raw, export.encoding.codec), 1 << 16)


# Detection needs only the keys near the top; deeper nesting is walked without naming it,
# so a hostile head (``[[[[...`` fifty thousand deep) costs one pass, not one per level.
_DETECT_DEPTH = 6


def _shallow_keys(text: str, depth: int) -> Iterator[tuple[str, str]]:
    """Yield ``(prefix, key)`` for object keys at most *depth* containers deep, in ijson's
    prefix notation, until the head ends or stops being JSON."""
    path: list[str] = []
    deeper = 0  # containers open below *depth*, counted but not named
    events = ijson.basic_parse(text.encode(), use_float=False)
    try:
        for event, value in events:
            if deeper:
                if event in ("start_map", "start_array"):
                    deeper += 1
                elif event in ("end_map", "end_array"):
                    deeper -= 1
            elif event in ("start_map", "start_array"):
                if len(path) >= depth:
                    deeper = 1
                else:
                    path.append("" if event == "start_map" else "item")
            elif event in ("end_map", "end_array"):
                path.pop()
            elif event == "map_key":
                yield ".".join(path[:-1]), value
                path[-1] = value
    except (ijson.JSONError, UnicodeDecodeError, ValueError):
        return


def head_keys(text: str) -> dict[str, set[str]]:
    """Return the object keys visible in a JSON head, by ijson prefix (cheap, tolerant)."""
    keys: dict[str, set[str]] = {}
    for prefix, key in _shallow_keys(text, _DETECT_DEPTH):
        keys.setdefault(prefix, set()).add(key)
    return keys


def top_level_keys(head_text: str | None) -> set[str]:
    """Return the top-level keys visible in the first bytes of a JSON object (cheap)."""
    if not head_text:
        return set()
    text = head_text.lstrip("\ufeff \t\r\n")
    if not text.startswith("{"):
        return set()
    return {key for prefix, key in _shallow_keys(text, 1) if prefix == ""}
