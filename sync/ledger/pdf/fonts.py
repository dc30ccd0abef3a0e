"""The fonts billfold's PDFs are drawn with, registered once per process.

TrueType (DejaVu Sans when the system has it, else the Vera fonts shipped with
reportlab), so accented names print as written; each subset a document embeds is built
once per process and kept (``keep_subsets``).
"""

from __future__ import annotations

from functools import cache, lru_cache
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

SYSTEM_FONTS = (
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
)


@cache
def fonts() -> tuple[str, str]:
    """Register and return (regular, bold) TrueType font names."""
    regular, bold = SYSTEM_FONTS
    if not (regular.exists() and bold.exists()):
        import reportlab

        base = Path(reportlab.__file__).parent / "fonts"
        regular, bold = base / "Vera.ttf", base / "VeraBd.ttf"
    for name, path in (("BillfoldSans", regular), ("BillfoldSans-Bold", bold)):
        font = TTFont(name, str(path))
        keep_subsets(font)
        pdfmetrics.registerFont(font)
    return "BillfoldSans", "BillfoldSans-Bold"


SUBSETS_KEPT = 64  # per font: the subsets of the documents drawn most recently


def keep_subsets(font: TTFont) -> None:
    """Build each subset of *font* once per process, not once per document.

    A PDF embeds the glyphs it uses as a subset font; building it reads the glyphs out
    of the TrueType file (about 0.2 ms a font, for every document). With reportlab's
    readable-ASCII layout, a subset lists the 128 ASCII characters then the others in
    order of first use, so invoices of one business mostly share the same few subsets:
    the bytes are kept by that list (a given list always makes the same bytes).
    """
    make = font.face.makeSubset

    @lru_cache(maxsize=SUBSETS_KEPT)
    def made(subset: tuple[int, ...]) -> bytes:
        return make(list(subset))

    font.face.makeSubset = lambda subset: made(tuple(subset))
