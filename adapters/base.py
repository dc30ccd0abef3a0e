"""The adapter contract: what an adapter is given and what it must provide.

An adapter is one class, in one module (or a package named for its format when one
module is not enough). ``detect(head)`` looks at the first bytes of a file and answers
whether the file is its format (cheap, no side effects).
``parse(export, options)`` streams the file and yields canonical records
(``schemas.records``), a ``Rejection`` for each record it cannot read, and ``Note``s; it
raises ``FileRejected`` when the file as a whole cannot be read. Adapters are given
files, never database sessions. What formats share (tables, cells, JSON fields,
encodings) is in ``adapters.toolkit``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, ClassVar, Protocol, TextIO

from adapters.errors import FileRejected
from adapters.toolkit.text import Encoding
from schemas.records import Item


@dataclass(frozen=True, slots=True)
class Head:
    """The first bytes of a file, decoded when it is text."""

    name: str
    data: bytes
    text: str | None
    # The source's ``[sources.columns]`` mapping: a header it names is read as mapped.
    columns: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Resemblance:
    """How far a file an adapter does not claim looks like its format, and what it lacks.

    ``score`` runs from 0 (nothing alike) to 1; ``lacks`` completes "but it ..." and
    says what to do, e.g. "has no column for number; name the column that holds it
    under [sources.columns] (number = \"...\")".
    """

    score: float  # not money: 0 (nothing alike) to 1
    lacks: str


@dataclass(frozen=True, slots=True)
class ParseOptions:
    """Per-source hints from configuration.

    ``date_order`` ("DMY" or "MDY") is used only when a file's dates fit both orders;
    ``columns`` maps canonical column names to the header names a source uses.
    """

    date_order: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)
    default_currency: str = "USD"


class _CountingReader(io.RawIOBase):
    """A binary reader that reports how far through the file it is."""

    def __init__(self, raw: BinaryIO, on_progress: Callable[[int], None]) -> None:
        self._raw = raw
        self._on_progress = on_progress
        self._seen = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]  # every binary file billfold opens is buffered or raw, both have readinto
        if n:
            self._seen += n
            self._on_progress(self._seen)
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


@dataclass(slots=True)
class ExportFile:
    """A file to parse: the pipeline's stored copy, its original name and encoding."""

    path: Path
    name: str
    encoding: Encoding
    size: int = 0
    on_progress: Callable[[int], None] | None = None

    def open_binary(self) -> BinaryIO:
        """Open the file for reading bytes."""
        raw = self.path.open("rb")
        if self.on_progress is None:
            return raw
        return io.BufferedReader(_CountingReader(raw, self.on_progress), 1 << 16)

    def open_text(self) -> TextIO:
        """Open the file as text in its sniffed encoding, for the csv module (newline='')."""
        if self.encoding.codec is None:
            raise FileRejected(
                self.encoding.problem or "the file is not text",
            )
        wrapper = io.TextIOWrapper(
            self.open_binary(), encoding=self.encoding.codec, newline=""
        )
        return _CheckedText(wrapper)  # type: ignore[return-value]  # a TextIOWrapper subclass used as the TextIO it wraps


class _CheckedText:
    """Text whose decoding failures become FileRejected (never a bare UnicodeError)."""

    def __init__(self, inner: io.TextIOWrapper) -> None:
        self._inner = inner
        self._lines = 0  # line breaks read so far (to say where a NUL is)

    def _checked(self, text: str) -> str:
        """*text*, unless it holds a NUL character: a UTF-16 file can carry one where a
        UTF-8 file would have been refused as binary, and no store can keep it."""
        at = text.find("\x00")
        if at >= 0:
            line = self._lines + text.count("\n", 0, at) + 1
            raise FileRejected(
                f"the file holds a NUL character on line {line}, which no export writes "
                "(a damaged or binary file?); export it again from the billing system"
            )
        self._lines += text.count("\n")
        return text

    def _fail(self, exc: UnicodeDecodeError) -> FileRejected:
        return FileRejected(
            f"the file is not valid {self._inner.encoding} text ({exc.reason}); save "
            "the export again as UTF-8"
        )

    def read(self, size: int = -1) -> str:
        try:
            return self._checked(self._inner.read(size))
        except UnicodeDecodeError as exc:
            raise self._fail(exc) from exc

    def readline(self, size: int = -1) -> str:
        try:
            return self._checked(self._inner.readline(size))
        except UnicodeDecodeError as exc:
            raise self._fail(exc) from exc

    def __iter__(self) -> _CheckedText:
        return self

    def __next__(self) -> str:
        line = self.readline()
        if not line:
            raise StopIteration
        return line

    def seek(self, offset: int, whence: int = 0) -> int:
        if (offset, whence) == (0, 0):
            self._lines = 0
        return self._inner.seek(offset, whence)

    def tell(self) -> int:
        return self._inner.tell()

    def close(self) -> None:
        self._inner.close()

    def __enter__(self) -> _CheckedText:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Adapter(Protocol):
    """What every adapter class provides.

    Two class attributes are optional and read by the registry: ``fallback = True``
    asks the adapter only when no other claims a file (generic CSV), and ``markers``
    (normalised header names only this format writes) keeps the fallback away from a
    file of this format that ``detect`` does not claim. An optional classmethod
    ``resemblance(head) -> Resemblance | None`` lets the registry tell, when no
    adapter claims a file, which format it most resembles and what it lacks.
    """

    name: ClassVar[str]
    label: ClassVar[str]

    @classmethod
    def detect(cls, head: Head) -> bool:
        """Return True when *head* is the start of a file in this adapter's format."""
        ...

    def parse(self, export: ExportFile, options: ParseOptions) -> Iterator[Item]:
        """Yield the records of *export*; raise FileRejected if it cannot be read."""
        ...
