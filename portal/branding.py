"""Branding from configuration: colours as a stylesheet, the logo as a file.

Served as files (not inline styles) so the Content-Security-Policy can forbid inline
CSS; both are cacheable because they only change when the config does.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from flask import Blueprint, abort, send_file
from werkzeug.wrappers import Response

from portal.context import portal

bp = Blueprint("branding", __name__)


def _rgb(colour: str) -> tuple[int, int, int]:
    text = colour.strip().lstrip("#")
    if len(text) == 3:
        text = "".join(c * 2 for c in text)
    try:
        return int(text[0:2], 16), int(text[2:4], 16), int(text[4:6], 16)
    except (ValueError, IndexError):
        return 0x1F, 0x4E, 0x79


def _luminance(rgb: tuple[int, int, int]) -> float:  # not money
    def channel(c: int) -> float:  # not money
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def brand_css(colour: str) -> str:
    """CSS variables for the brand colour and a text colour that passes WCAG AA on it."""
    rgb = _rgb(colour)
    ink = "#ffffff" if (1.05 / (_luminance(rgb) + 0.05)) >= 4.5 else "#111111"
    # A darker shade for links and text on white, so brand-coloured text stays readable.
    dark = tuple(int(c * 0.75) for c in rgb) if _luminance(rgb) > 0.18 else rgb
    return (
        ":root{"
        f"--brand:#{rgb[0]:02x}{rgb[1]:02x}{rgb[2]:02x};"
        f"--brand-ink:{ink};"
        f"--brand-text:#{dark[0]:02x}{dark[1]:02x}{dark[2]:02x};"
        "}\n"
    )


@bp.get("/brand.css", endpoint="css")
def css() -> Response:
    """The brand colours."""
    response = Response(
        brand_css(portal().settings.business.colour), mimetype="text/css"
    )
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


@bp.get("/brand/logo", endpoint="logo")
def logo() -> Response:
    """The business logo, if one is configured."""
    path = portal().settings.business.logo
    if not path or not Path(path).is_file():
        abort(404)
    kind = mimetypes.guess_type(path)[0]
    if kind not in (
        "image/png",
        "image/jpeg",
        "image/svg+xml",
        "image/gif",
        "image/webp",
    ):
        abort(404)
    response = send_file(path, mimetype=kind, max_age=3600)
    return response
