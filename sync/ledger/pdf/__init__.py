"""PDF documents a customer would accept: statements and invoice copies.

Drawn with reportlab's platypus tables (a few milliseconds per page; HTML-to-PDF is a
hundred times slower, research/LIMITS.md). Every imported string is hostile: text goes
into table cells as plain strings (wrapped once by ``_cell``, drawn literally), and into
``Paragraph`` only through ``_para``, which escapes markup. Long tables hold no
``Paragraph``: platypus measures every remaining row again at each page break, so a
500-line statement of paragraphs costs seconds where plain cells cost milliseconds. Fonts are TrueType (DejaVu Sans when the system has it, else the Vera
fonts shipped with reportlab) so accented names print as written.

This lives in ``sync`` because the CLI (``billfold statement --format pdf``) and the
portal both render it, and ``sync`` may not import the portal.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    CondPageBreak,
    Image,
    KeepTogether,
    LongTable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)  # fmt: skip

from schemas.limits import LIMITS, clip
from schemas.money import format_money, format_unit_price
from schemas.records import document_title
from sync.config import BusinessSettings
from sync.ledger.pdf.fonts import fonts
from sync.ledger.statement import BUCKETS, Statement

Points = float  # not money: lengths on the page, in PDF points
CELL_LINES = 40  # lines of text in one table row: a row never outgrows a page
FACT_CHARACTERS = 300  # of a number, name or reference beside the title


def _colour(text: str) -> colors.Color:
    try:
        return colors.HexColor(text)
    except (ValueError, TypeError):
        return colors.HexColor("#1f4e79")


@dataclass(frozen=True)
class _Style:
    regular: str
    bold: str
    brand: colors.Color
    small: ParagraphStyle
    body: ParagraphStyle
    right: ParagraphStyle
    title: ParagraphStyle
    heading: ParagraphStyle


def _style(business: BusinessSettings) -> _Style:
    regular, bold = fonts()
    brand = _colour(business.colour)
    small = ParagraphStyle(
        "small",
        fontName=regular,
        fontSize=7.5,
        leading=9.5,
        textColor=colors.HexColor("#444444"),
    )
    body = ParagraphStyle("body", fontName=regular, fontSize=8.5, leading=10.5)
    return _Style(
        regular,
        bold,
        brand,
        small,
        body,
        ParagraphStyle("right", parent=body, alignment=TA_RIGHT),
        ParagraphStyle(
            "title", fontName=bold, fontSize=16, leading=20, textColor=brand
        ),
        ParagraphStyle(
            "heading",
            fontName=bold,
            fontSize=10.5,
            leading=14,
            spaceBefore=8,
            spaceAfter=3,
            textColor=brand,
        ),
    )


def _para(text: str | None, style: ParagraphStyle) -> Paragraph:
    """A paragraph of untrusted text: markup escaped, line breaks kept."""
    safe = escape(text or "").replace("\n", "<br/>")
    return Paragraph(safe, style)


def _cell(
    text: str | None,
    st: _Style,
    width: float,  # not money: points
    field: str = "memo",
) -> str:
    """Untrusted text for a table cell *width* points wide: broken into lines that fit
    (a word longer than the cell is cut), drawn as written, never read as markup. At
    most ``CELL_LINES`` lines (an ellipsis says there was more), so that a row always
    fits on a page."""
    lines = _lines(text, st, width, field)
    if len(lines) > CELL_LINES:
        lines = [*lines[: CELL_LINES - 1], "…"]
    return "\n".join(lines)


def _lines(
    text: str | None,
    st: _Style,
    width: float,  # not money: points
    field: str,
) -> list[str]:
    """*text* (cut to its field's limit) as the lines a cell *width* points wide holds."""
    size, padding = 8.5, 12  # the grid's font size; its left and right padding
    room = width - padding
    lines: list[str] = []
    for paragraph in clip(text, LIMITS[field].maximum).splitlines() or [""]:
        for line in simpleSplit(paragraph, st.regular, size, room) or [""]:
            lines.extend(_fit(line, st.regular, size, room))
    return lines


def _fit(
    line: str,
    font: str,
    size: float,  # not money: points
    room: float,  # not money: points
) -> list[str]:
    """Cut a line wider than *room* (one long word) into pieces that fit, in one pass."""
    if stringWidth(line, font, size) <= room:
        return [line]
    pieces, start, used = [], 0, 0.0
    for i, char in enumerate(line):
        width = stringWidth(char, font, size)
        if used + width > room and i > start:
            pieces.append(line[start:i])
            start, used = i, 0.0
        used += width
    pieces.append(line[start:])
    return pieces


def _rows(text: str | None, st: _Style, width: Points, field: str) -> list[str]:
    """*text* for a cell, split into row-sized parts: a long text continues on the
    rows below instead of making one row taller than a page."""
    lines = _lines(text, st, width, field)
    return [
        "\n".join(lines[i : i + CELL_LINES]) for i in range(0, len(lines), CELL_LINES)
    ]


def _fact(text: str | None) -> str:
    """An imported value for the letterhead's facts (a number, a name, a reference)."""
    return clip(text, FACT_CHARACTERS)


def _doc(
    buffer: io.BytesIO, business: BusinessSettings, title: str
) -> SimpleDocTemplate:
    size = A4 if business.paper.lower() == "a4" else LETTER
    return SimpleDocTemplate(
        buffer, pagesize=size, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=14 * mm,
        bottomMargin=18 * mm, title=title, author=business.name,
    )  # fmt: skip


def _letterhead(
    business: BusinessSettings, st: _Style, title: str, facts: Sequence[tuple[str, str]]
) -> Table:
    """Business details on the left, document title and key facts on the right."""
    left: list = []
    if business.logo and Path(business.logo).is_file():
        with contextlib.suppress(OSError):
            left.append(
                Image(business.logo, width=38 * mm, height=14 * mm, kind="proportional")
            )
    left.append(_para(business.name, st.title))
    contact = "\n".join(
        x
        for x in (business.address, business.phone, business.email, business.website)
        if x
    )
    if contact:
        left.append(_para(contact, st.small))
    if business.tax_id:
        left.append(_para(f"Tax no. {business.tax_id}", st.small))
    # The title's own leading: at the body's, its 15-point line ran into the facts below.
    big = ParagraphStyle(
        "t", parent=st.right, fontName=st.bold, fontSize=15, leading=19
    )
    right = [Paragraph(escape(title), big), Spacer(1, 4)]
    fact_table = Table(
        [[_para(k, st.small), _para(v, st.right)] for k, v in facts],
        colWidths=[32 * mm, 45 * mm],
        style=[
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ("TOPPADDING", (0, 0), (-1, -1), 1),
        ],
    )
    right.append(fact_table)
    table = Table([[left, right]], colWidths=[None, 80 * mm])
    table.setStyle(
        TableStyle(
            [("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0)]
        )
    )
    return table


def _footer(business: BusinessSettings, st: _Style, label: str) -> type[Canvas]:
    """A canvas that holds its pages until the end, then draws on each the footer and
    "Page N of M"; the footer text is cut to the room left of the page number."""
    text = f"{business.name} · {label}"
    if business.email or business.phone:
        text += " · questions: " + " / ".join(
            x for x in (business.email, business.phone) if x
        )

    class Footed(Canvas):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.pages: list[dict] = []

        def showPage(self) -> None:
            self.pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            for n, state in enumerate(self.pages, 1):
                self.__dict__.update(state)
                number, right = (
                    f"Page {n} of {len(self.pages)}",
                    self._pagesize[0] - 15 * mm,
                )
                self.setFont(st.regular, 7)
                self.setFillColor(colors.HexColor("#666666"))
                room = right - stringWidth(number, st.regular, 7) - 6 * mm - 15 * mm
                self.drawString(
                    15 * mm, 10 * mm, _fit(text[:300], st.regular, 7, room)[0]
                )
                self.drawRightString(right, 10 * mm, number)
                super().showPage()
            super().save()

    return Footed


GRID_SIZE, GRID_PADDING = 8.5, 2.5  # not money: the grid's font size, cell padding


def _row_heights(data: list) -> list[float] | None:  # not money: points
    """Each row's height, when every cell is text (else reportlab measures)."""
    if not all(isinstance(cell, str) for row in data for cell in row):
        return None
    leading = GRID_SIZE * 1.2  # reportlab's leading for a FONT without one
    return [
        leading * max(cell.count("\n") + 1 for cell in row) + 2 * GRID_PADDING
        for row in data
    ]


def _grid(
    data: list,
    widths: Sequence[Points | None],
    st: _Style,
    *,
    numeric_from: int,
    bold_rows: Sequence[int] = (),
) -> Table:
    # LongTable measures rows only until the page is full, not the whole rest at every
    # page break: a long statement costs pages, not pages times rows. Rows of plain
    # text are measured here, as reportlab would (lines times leading, plus padding): its own
    # measuring looks each row up with list.index and re-adds the rows above it, a
    # quarter of a long statement's time.
    table = LongTable(
        data, colWidths=list(widths), rowHeights=_row_heights(data), repeatRows=1,
        hAlign="LEFT",
    )  # fmt: skip
    style = [
        ("FONT", (0, 0), (-1, -1), st.regular, GRID_SIZE),
        ("FONT", (0, 0), (-1, 0), st.bold, GRID_SIZE),
        ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
        ("BACKGROUND", (0, 0), (-1, 0), st.brand),
        ("ALIGN", (numeric_from, 0), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#dddddd")),
        ("TOPPADDING", (0, 0), (-1, -1), GRID_PADDING),
        ("BOTTOMPADDING", (0, 0), (-1, -1), GRID_PADDING),
    ]
    for row in bold_rows:
        style.append(("FONT", (0, row), (-1, row), st.bold, GRID_SIZE))
        style.append(("BACKGROUND", (0, row), (-1, row), colors.HexColor("#f1f4f8")))
    table.setStyle(TableStyle(style))
    return table


def statement_pdf(
    statement: Statement, business: BusinessSettings, generated_on: date
) -> bytes:
    """Render *statement* as a PDF a customer would accept."""
    money = partial(format_money, locale=business.locale)
    st = _style(business)
    buffer = io.BytesIO()
    doc = _doc(buffer, business, f"Statement {_fact(statement.account)}")
    period = f"{statement.start:%d %b %Y} – {statement.end:%d %b %Y}"
    totals = statement.totals()
    due = [
        (
            f"Balance {cur}" if len(totals) > 1 else "Balance",
            money(t["closing"], cur),
        )
        for cur, t in sorted(totals.items())
    ]
    story: list = [
        _letterhead(
            business,
            st,
            "STATEMENT",
            [
                ("Account", _fact(statement.account)),
                ("Account no.", _fact(statement.account_key)),
                ("Period", period),
                ("Date", f"{generated_on:%d %b %Y}"),
                *due,
            ],
        ),
        Spacer(1, 6 * mm),
    ]
    if not totals:
        story.append(_para("There is no activity on this account.", st.body))
    for currency, t in sorted(totals.items()):
        rows = [
            ["Summary" + (f" ({currency})" if len(totals) > 1 else ""), ""],
            [
                "Balance on " + f"{statement.start:%d %b %Y}",
                money(t["opening"], currency),
            ],
            ["New charges", money(t["charges"], currency)],
            ["Payments and credits", money(t["credits"], currency)],
            [
                "Balance on " + f"{statement.end:%d %b %Y}",
                money(t["closing"], currency),
            ],
        ]
        summary = _grid(rows, [60 * mm, 35 * mm], st, numeric_from=1, bold_rows=[4])
        head = ["Not yet due", "1–30 days", "31–60 days", "61–90 days", "Over 90 days"]
        # Equal columns that fit the page, headings wrapped at word breaks.
        figures = [money(t["aging"][b], currency) for b in BUCKETS]
        if t["undated"]:
            head.append("Paid, date not in export")
            figures.append(money(t["undated"], currency))
        head += ["Unmatched credits", "Balance"]
        figures += [
            money(t["unmatched"], currency),
            money(t["closing"], currency),
        ]
        width = doc.width / len(head)
        heads = ["\n".join(simpleSplit(h, st.bold, 8.5, width - 12)) for h in head]
        aging = [heads, figures]
        story.append(
            KeepTogether(
                [
                    summary,
                    Spacer(1, 3 * mm),
                    _grid(aging, [width] * len(head), st, numeric_from=0, bold_rows=[]),
                ]
            )
        )
        story.append(Spacer(1, 4 * mm))
    for note in statement.notes:
        story += [_para(f"Note: {note}", st.body), Spacer(1, 3 * mm)]
    for section in statement.sections:
        for lg in section.ledgers:
            name = (
                _fact(section.name)
                if section.parent is None
                else f"{_fact(section.name)} (site of {_fact(section.parent)})"
            )
            # A heading with less than a few rows' room left moves to the next page.
            story += [
                CondPageBreak(30 * mm),
                _para(f"{name} · {lg.currency}", st.heading),
            ]
            data: list = [["Date", "Reference", "Description", "Amount", "Balance"]]
            widths = [22 * mm, 32 * mm, doc.width - 106 * mm, 26 * mm, 26 * mm]
            data.append([f"{statement.start:%d %b %Y}", "", "Opening balance", "", money(lg.opening, lg.currency)])  # fmt: skip
            for line, running in lg.lines:
                data.append(
                    [f"{line.on:%d %b %Y}", _cell(line.reference, st, widths[1], "reference"),
                     _cell(line.description, st, widths[2]),
                     money(line.amount, lg.currency), money(running, lg.currency)]
                )  # fmt: skip
            data.append([f"{statement.end:%d %b %Y}", "", "Closing balance", "", money(lg.closing, lg.currency)])  # fmt: skip
            story.append(_grid(data, widths, st, numeric_from=3, bold_rows=[1, len(data) - 1]))  # fmt: skip
            if lg.open_items:
                story += [
                    CondPageBreak(30 * mm),
                    _para("Open invoices at the end of the period", st.heading),
                ]
                rows = [["Invoice", "Date", "Due", "Total", "Open", "Days late"]]
                open_widths = [doc.width - 134 * mm, 26 * mm, 26 * mm, 28 * mm, 28 * mm, 26 * mm]  # fmt: skip
                rows += [
                    [_cell(o.number, st, open_widths[0], "number"), _d(o.issue_date), _d(o.due_date), money(o.total, lg.currency),
                     money(o.open, lg.currency), str(o.days_past_due) if o.days_past_due else "not yet due"]
                    for o in lg.open_items
                ]  # fmt: skip
                story.append(_grid(rows, open_widths, st, numeric_from=3))
            if lg.undated:
                story += [
                    CondPageBreak(30 * mm),
                    _para("Paid, date not in the export", st.heading),
                ]
                rows = [["Invoice", "Date", "Due", "Status", "Total", "Paid"]]
                widths = [doc.width - 150 * mm, 22 * mm, 22 * mm, 58 * mm, 24 * mm, 24 * mm]  # fmt: skip
                rows += [
                    [_cell(u.number, st, widths[0], "number"), _d(u.issue_date), _d(u.due_date),
                     _cell(u.note, st, widths[3]), money(u.total, lg.currency),
                     money(u.amount, lg.currency)]
                    for u in lg.undated
                ]  # fmt: skip
                story.append(_grid(rows, widths, st, numeric_from=4))
    label = f"Statement for {statement.account}, {period}"
    doc.build(story, canvasmaker=_footer(business, st, label))
    return buffer.getvalue()


def _d(value: date | None) -> str:
    return f"{value:%d %b %Y}" if value else ""


def invoice_pdf(detail: dict, business: BusinessSettings, generated_on: date) -> bytes:
    """Render an invoice copy from the stored record (used when no original was imported)."""
    from schemas.settlement import is_overdue, status_label

    money = partial(format_money, locale=business.locale)
    st = _style(business)
    inv = detail["invoice"]
    cur = inv["currency"]
    buffer = io.BytesIO()
    name = document_title("invoice", inv.get("doc_type"))
    doc = _doc(buffer, business, f"{name} {_fact(inv['number'])}")
    overdue = is_overdue(inv["status"], inv["due_date"], generated_on)
    facts = [
        ("Invoice no.", _fact(inv["number"])),
        ("Invoice date", _d(inv["issue_date"])),
        ("Due date", _d(inv["due_date"])),
    ]
    if inv["reference"]:
        facts.append(("Reference", _fact(inv["reference"])))
    facts += [(label, _fact(value)) for label, value in detail.get("facts", [])]
    facts.append(("Status", status_label(inv["status"], overdue)))
    title = name.upper() + (" (VOID)" if inv["status"] == "void" else "")
    story: list = [_letterhead(business, st, title, facts), Spacer(1, 6 * mm)]
    name, limit = _fact(inv["account_name"]), LIMITS["customer_email"].maximum
    bill_to = name
    if inv.get("parent_name"):
        bill_to = f"{_fact(inv['parent_name'])}\nSite: {name}"
    if inv.get("account_email"):
        bill_to += "\n" + clip(inv["account_email"], limit)
    story.append(
        Table(
            [[_para("Bill to", st.small)], [_para(bill_to, st.body)]],
            hAlign="LEFT",
            colWidths=[90 * mm],
            style=[("LEFTPADDING", (0, 0), (-1, -1), 0)],
        )
    )
    story.append(Spacer(1, 5 * mm))
    data: list = [["Description", "Qty", "Unit price", "Amount"]]
    widths = [doc.width - 76 * mm, 18 * mm, 28 * mm, 30 * mm]
    for line in detail["lines"]:
        text = line["description"] or line["item"] or ""
        if line["item"] and line["description"] not in ("", line["item"]):
            text = f"{line['description']} ({line['item']})"
        first, *more = _rows(text, st, widths[0], "line_description")
        data.append(
            [first, clip(line["quantity"], 50), _unit(line["unit_price"], cur, business.locale),
             money(line["amount_minor"], cur, unknown="")]
        )  # fmt: skip
        data += [[part, "", "", ""] for part in more]  # a long text goes on below
    if len(data) == 1:  # say so rather than show a lone "Invoice N" (the memo is below)
        data.append(
            ["No line items were recorded for this invoice.", "", "",
             money(inv["total_minor"], cur)]
        )  # fmt: skip
    story.append(_grid(data, widths, st, numeric_from=1))
    totals = []
    if inv["subtotal_minor"] is not None:
        totals.append(["Subtotal", money(inv["subtotal_minor"], cur)])
    if inv["tax_minor"] is not None:
        totals.append(["Tax", money(inv["tax_minor"], cur)])
    totals.append(["Total", money(inv["total_minor"], cur)])
    if inv["status"] != "void":
        if inv["paid_minor"]:
            totals.append(
                ["Paid", money(inv["paid_minor"], cur)]
            )  # as the page shows it
        if inv["credited_minor"]:
            totals.append(["Credits applied", money(inv["credited_minor"], cur)])
        balance = money(inv["balance_minor"], cur, unknown="not reported")
        totals.append(["Balance due", balance])
    table = Table(totals, colWidths=[40 * mm, 32 * mm], hAlign="RIGHT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), st.regular, 9),
                ("FONT", (0, -1), (-1, -1), st.bold, 10),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEABOVE", (0, -1), (-1, -1), 0.75, st.brand),
            ]
        )
    )
    story += [Spacer(1, 3 * mm), table]
    if detail["applied"]:
        story.append(_para("Payments and credits", st.heading))
        rows = [["Date", "Applied from", "Amount"]]
        for a in detail["applied"]:
            source = f"Credit note {_fact(a['credit_note_number'])}"
            if a["kind"] != "credit":
                ref, method = a["payment_reference"], a.get("payment_method")
                source = "Payment" + (f" {_fact(ref)}" if ref else "")
                if method:
                    source += f" ({clip(method, LIMITS['payment_method'].maximum)})"
            rows.append(
                [
                    _d(a["applied_on"]),
                    _para(source, st.body),
                    money(a["amount_minor"], cur),
                ]
            )
        story.append(_grid(rows, [30 * mm, None, 30 * mm], st, numeric_from=2))
    if inv["memo"]:
        memo = clip(inv["memo"], LIMITS["memo"].maximum)
        story += [Spacer(1, 4 * mm), _para(memo, st.small)]
    if detail.get("attachments"):
        names = [clip(a["name"], 255) or "unnamed" for a in detail["attachments"]]
        text = f"Attachments (not yet fetched): {', '.join(names)}"
        story += [Spacer(1, 3 * mm), _para(text, st.small)]
    if inv["pay_url"] and inv["status"] in ("unpaid", "partially_paid"):
        url = clip(inv["pay_url"], LIMITS["pay_url"].maximum)
        story += [Spacer(1, 4 * mm), _para(f"Pay online: {url}", st.body)]
    if inv["status"] in ("unpaid", "partially_paid") and (
        business.remit_to or business.bank_details
    ):
        story.append(
            KeepTogether(
                [_para("How to pay", st.heading), _para(remit_text(business), st.body)]
            )
        )
    label = f"Copy of invoice {_fact(inv['number'])}, produced {generated_on:%d %b %Y}"
    doc.build(story, canvasmaker=_footer(business, st, label))
    return buffer.getvalue()


def remit_text(business: BusinessSettings) -> str:
    """Bank and cheque (check) details from ``[business]``, one paragraph."""
    ways = (
        [f"By bank transfer: {business.bank_details}"] if business.bank_details else []
    )
    if business.remit_to:
        word, to = business.cheque, business.payable_to or business.name
        ways.append(f"By {word}, payable to {to}, sent to: {business.remit_to}")
    return "\n".join([*ways, "Please quote the invoice number with your payment."])


def _unit(value: str | None, currency: str, locale: str) -> str:
    """A unit price: money with the currency's places, or all the places it was given."""
    if not value:
        return ""
    return format_unit_price(
        clip(value, LIMITS["line_unit_price"].maximum), currency, locale
    )
