"""Bytes before text: decide an export's encoding, decode its head.

Rules (formats spec, section 2): a UTF-8 BOM means UTF-8; a UTF-16 BOM means UTF-16;
bytes that decode as UTF-8 are UTF-8; otherwise Windows-1252 (never Latin-1, which turns
``’`` and ``–`` into control characters) unless a byte cp1252 leaves undefined appears,
in which case the encoding cannot be decided and the file is refused.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass

UTF8_BOM = codecs.BOM_UTF8
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_CP1252_UNDEFINED = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
HEAD_SIZE = 64 * 1024


@dataclass(frozen=True, slots=True)
class Encoding:
    """The sniffed encoding of a file: a codec name, or why there is none."""

    codec: str | None  # "utf-8-sig", "utf-8", "utf-16", "cp1252" or None
    binary: bool = False
    problem: str | None = None


class EncodingSniffer:
    """Decide a file's encoding from its bytes, fed in chunks (one pass with the hash)."""

    def __init__(self) -> None:
        self._first = True
        self._bom: str | None = None
        self._utf8 = codecs.getincrementaldecoder("utf-8")("strict")
        self._utf8_ok = True
        self._cp1252_ok = True
        self._nul = False
        self._bad_offset: int | None = None
        self._offset = 0
        self._utf16 = codecs.getincrementaldecoder("utf-16")("strict")
        self._utf16_ok = True

    def feed(self, chunk: bytes) -> None:
        """Look at the next chunk of the file."""
        if self._first:
            self._first = False
            if chunk.startswith(UTF8_BOM):
                self._bom = "utf-8-sig"
            elif chunk.startswith(UTF16_BOMS):
                self._bom = "utf-16"
        if self._bom == "utf-16":
            if self._utf16_ok:
                try:
                    self._utf16.decode(chunk)
                except UnicodeDecodeError as exc:
                    self._utf16_ok = False
                    self._bad_offset = self._offset + exc.start
            self._offset += len(chunk)
            return
        if self._utf8_ok:
            try:
                self._utf8.decode(chunk)
            except UnicodeDecodeError as exc:
                self._utf8_ok = False
                self._bad_offset = self._offset + exc.start
        if self._cp1252_ok and any(b in chunk for b in _CP1252_UNDEFINED):
            self._cp1252_ok = False
        if not self._nul and b"\x00" in chunk:
            self._nul = True
        self._offset += len(chunk)

    def result(self) -> Encoding:
        """Return the decided encoding (call after the last chunk)."""
        if self._bom == "utf-16":
            if self._utf16_ok:
                try:
                    self._utf16.decode(b"", final=True)
                except UnicodeDecodeError:
                    self._utf16_ok = False
                    self._bad_offset = self._offset
            if self._utf16_ok:
                return Encoding("utf-16")
            return Encoding(
                None,
                problem=f"the file starts with a UTF-16 marker but byte {self._bad_offset} "
                "breaks UTF-16 (a cut-off copy?); save it again",
            )
        if self._utf8_ok:
            try:
                self._utf8.decode(b"", final=True)
            except UnicodeDecodeError:
                self._utf8_ok = False
                self._bad_offset = self._offset
        if self._nul:
            return Encoding(None, binary=True, problem="the file holds binary data")
        if self._utf8_ok:
            return Encoding(self._bom or "utf-8")
        if self._bom == "utf-8-sig":
            return Encoding(
                None,
                problem=f"the file starts with a UTF-8 marker but byte {self._bad_offset} "
                "is not UTF-8; re-save it as UTF-8",
            )
        if self._cp1252_ok:
            return Encoding("cp1252")
        return Encoding(
            None,
            problem=f"byte {self._bad_offset} is neither UTF-8 nor Windows-1252; save "
            "the export as UTF-8 (Excel: 'CSV UTF-8') and drop it again",
        )


def sniff_bytes(data: bytes) -> Encoding:
    """Return the encoding of an in-memory file."""
    sniffer = EncodingSniffer()
    sniffer.feed(data)
    return sniffer.result()


def decode_head(data: bytes, encoding: Encoding) -> str | None:
    """Decode the first bytes of a file for detection, tolerating a cut last character."""
    if encoding.codec is None:
        return None
    return data.decode(encoding.codec, errors="ignore")
