"""File downloads: safe names, safe content types, always as attachments (except PDFs
a person asks to view)."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from werkzeug.wrappers import Response

NAME_CHARACTERS = 150  # of a download's name as the browser is told it
SAFE_TYPES = {"application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"}


def safe_filename(name: str) -> str:
    """An ASCII file name for Content-Disposition (the original lives in filename*)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9._ -]+", "_", ascii_name).strip(" .") or "download"
    return ascii_name[:120]


def download(
    data: bytes, name: str, content_type: str, *, inline: bool = False
) -> Response:
    """A response that downloads *data* as *name* (never sniffed, never run)."""
    stem, dot, extension = name.rpartition(".")
    if len(name) > NAME_CHARACTERS:  # a name built from an imported number
        name = (
            f"{stem[: NAME_CHARACTERS - 10]}…{dot}{extension[:8]}"
            if dot
            else name[:NAME_CHARACTERS]
        )
    allowed = SAFE_TYPES | {"text/csv", "application/zip"}
    mimetype = content_type if content_type in allowed else "application/octet-stream"
    response = Response(data, mimetype=mimetype)
    disposition = (
        "inline" if inline and content_type == "application/pdf" else "attachment"
    )
    response.headers["Content-Disposition"] = (
        f"{disposition}; filename=\"{safe_filename(name)}\"; filename*=UTF-8''{quote(name)}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
