"""Excel ("Export to Excel") QuickBooks reports for tests and the sample exports.

QuickBooks writes the same rows to Excel as to CSV, with typed cells: real dates and
numbers with a number format. ``write_report`` builds such a workbook from rows of
Python values (``date`` → a date cell, ``Decimal`` → a number cell showing cents, ``str``
as it is). ``python -m tests.adapters.quickbooks_report_workbooks`` rewrites the Excel
samples in ``sample_exports/quickbooks_report/`` from the rows below.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

SAMPLES = Path(__file__).resolve().parent.parent.parent / "sample_exports"
MONEY_FORMAT = "#,##0.00;-#,##0.00"
DATE_FORMAT = "mm/dd/yyyy"
FIXED_TIME = datetime(2025, 6, 30, 23, 12)  # keeps the workbook bytes reproducible


def write_report(
    path: Path,
    rows: Sequence[Sequence[Any]],
    *,
    money_format: str = MONEY_FORMAT,
    sheet: str = "Report",
) -> Path:
    """Write *rows* as a one-sheet workbook the way QuickBooks exports a report."""
    book = Workbook()
    ws = book.active
    ws.title = sheet
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            if value is None or value == "":
                continue
            cell = ws.cell(row=r, column=c, value=value)
            if isinstance(value, Decimal | float):
                cell.number_format = money_format
            elif isinstance(value, date):
                cell.number_format = DATE_FORMAT
            if r <= 3 and c == 1:
                cell.font = Font(bold=True)
    book.properties.created = book.properties.modified = FIXED_TIME
    book.save(path)
    return path


def d(text: str) -> date:
    """Return the date of an ``MM/DD/YYYY`` string (rows read like the CSV reports)."""
    month, day, year = (int(p) for p in text.split("/"))
    return date(year, month, day)


def m(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


FOOTER = "Accrual Basis Monday, June 30, 2025 04:12 PM GMT-07:00"

CUSTOMER_BALANCE_DETAIL = [
    ["Customer Balance Detail"],
    ["Harbor Plumbing & Heating"],
    ["As of June 30, 2025"],
    [],
    ["", "Transaction date", "Transaction type", "No.", "Due date", "Amount",
     "Open balance", "Balance"],
    ["Bayview Café"],
    ["", d("04/02/2025"), "Invoice", "1004", d("05/02/2025"), m("728.20"), m("428.20"), m("428.20")],
    ["", d("06/10/2025"), "Invoice", "1012", d("07/10/2025"), m("380.00"), m("380.00"), m("808.20")],
    ["Total for Bayview Café", "", "", "", "", m("1,108.20"), m("808.20"), m("808.20")],
    ["Jenna Alvarez"],
    ["", d("06/03/2025"), "Invoice", "1011", d("07/03/2025"), m("524.90"), m("524.90"), m("524.90")],
    ["Total for Jenna Alvarez", "", "", "", "", m("524.90"), m("524.90"), m("524.90")],
    ["Lighthouse Laundromat"],
    ["", d("05/12/2025"), "Invoice", "1010", d("06/11/2025"), m("1,159.34"), m("1,107.64"), m("1,107.64")],
    ["Total for Lighthouse Laundromat", "", "", "", "", m("1,159.34"), m("1,107.64"), m("1,107.64")],
    ["Maple Street Dental"],
    ["", d("05/06/2025"), "Invoice", "1009", d("06/05/2025"), m("450.00"), m("250.00"), m("250.00")],
    ["Total for Maple Street Dental", "", "", "", "", m("450.00"), m("250.00"), m("250.00")],
    ["Oakridge Property Management"],
    ["", d("06/05/2025"), "Invoice", "1014", d("07/05/2025"), m("560.00"), m("281.15"), m("281.15")],
    ["Total for Oakridge Property Management", "", "", "", "", m("560.00"), m("281.15"), m("281.15")],
    ["Pinecrest HOA"],
    ["", d("06/12/2025"), "Credit Memo", "CM-103", d("06/12/2025"), m("-75.00"), m("-75.00"), m("-75.00")],
    ["Total for Pinecrest HOA", "", "", "", "", m("-75.00"), m("-75.00"), m("-75.00")],
    ["Thomas & Rita Okafor"],
    ["", d("06/16/2025"), "Invoice", "1013", d("07/16/2025"), m("604.99"), m("604.99"), m("604.99")],
    ["Total for Thomas & Rita Okafor", "", "", "", "", m("604.99"), m("604.99"), m("604.99")],
    ["TOTAL", "", "", "", "", m("4,332.43"), m("3,501.88"), m("3,501.88")],
    [],
    [FOOTER],
]  # fmt: skip

AR_AGING_DETAIL = [
    ["Harbor Plumbing & Heating"],
    ["A/R Aging Detail"],
    ["As of June 30, 2025"],
    [],
    ["", "Date", "Transaction Type", "Num", "Customer", "Due Date", "Past Due",
     "Amount", "Open Balance"],
    ["Current"],
    ["", d("06/03/2025"), "Invoice", "1011", "Jenna Alvarez", d("07/03/2025"), -3, m("524.90"), m("524.90")],
    ["", d("06/05/2025"), "Invoice", "1014", "Oakridge Property Management", d("07/05/2025"), -5, m("560.00"), m("281.15")],
    ["", d("06/10/2025"), "Invoice", "1012", "Bayview Café", d("07/10/2025"), -10, m("380.00"), m("380.00")],
    ["", d("06/12/2025"), "Credit Memo", "CM-103", "Pinecrest HOA", d("06/12/2025"), 18, m("-75.00"), m("-75.00")],
    ["", d("06/16/2025"), "Invoice", "1013", "Thomas & Rita Okafor", d("07/16/2025"), -16, m("604.99"), m("604.99")],
    ["Total for Current", "", "", "", "", "", "", m("1,994.89"), m("1,716.04")],
    ["1 - 30 days past due"],
    ["", d("05/06/2025"), "Invoice", "1009", "Maple Street Dental", d("06/05/2025"), 25, m("450.00"), m("250.00")],
    ["", d("05/12/2025"), "Invoice", "1010", "Lighthouse Laundromat", d("06/11/2025"), 19, m("1,159.34"), m("1,107.64")],
    ["Total for 1 - 30 days past due", "", "", "", "", "", "", m("1,609.34"), m("1,357.64")],
    ["31 - 60 days past due"],
    ["", d("04/02/2025"), "Invoice", "1004", "Bayview Café", d("05/02/2025"), 59, m("728.20"), m("428.20")],
    ["Total for 31 - 60 days past due", "", "", "", "", "", "", m("728.20"), m("428.20")],
    ["TOTAL", "", "", "", "", "", "", m("4,332.43"), m("3,501.88")],
    [],
    [FOOTER],
]  # fmt: skip

# Oakridge's jobs nest inside its group; one date is text, one amount is text with
# the "(40.00)" negative style, and the payment 20931 belongs to the parent itself.
TRANSACTION_LIST_JOBS = [
    ["Transaction List by Customer"],
    ["Harbor Plumbing & Heating"],
    ["March 1 - June 30, 2025"],
    [],
    ["", "Transaction date", "Transaction type", "No.", "Posting", "Memo/Description",
     "Account full name", "Amount"],
    ["Bayview Café"],
    ["", d("04/02/2025"), "Invoice", "1004", "Yes", "Quarterly grease trap + backflow", "Accounts Receivable (A/R)", m("728.20")],
    ["", d("05/01/2025"), "Payment", 1187, "Yes", "", "Undeposited Funds", m("300.00")],
    ["", "06/10/2025", "Invoice", "1012", "Yes", "Grease trap - June", "Accounts Receivable (A/R)", m("380.00")],
    ["", d("06/20/2025"), "Credit Memo", "CM-104", "Yes", "Trip charge waived", "Accounts Receivable (A/R)", "(40.00)"],
    ["Total for Bayview Café", "", "", "", "", "", "", m("1,368.20")],
    ["Oakridge Property Management"],
    ["", d("06/25/2025"), "Payment", "20931", "Yes", "", "Undeposited Funds", m("1,000.00")],
    ["12 Elm St"],
    ["", d("03/10/2025"), "Invoice", "1002", "Yes", "Main line backup", "Accounts Receivable (A/R)", m("625.00")],
    ["", d("04/07/2025"), "Payment", "ACH-20250407", "Yes", "", "Undeposited Funds", m("625.00")],
    ["Total for 12 Elm St", "", "", "", "", "", "", m("1,250.00")],
    ["45 Park Ave unit 2"],
    ["", d("04/15/2025"), "Invoice", "1006", "Yes", "Burst pipe", "Accounts Receivable (A/R)", m("721.15")],
    ["Total for 45 Park Ave unit 2", "", "", "", "", "", "", m("721.15")],
    ["88 Commercial St"],
    ["", d("06/05/2025"), "Invoice", "1014", "Yes", "Annual flush", "Accounts Receivable (A/R)", m("560.00")],
    ["Total for 88 Commercial St", "", "", "", "", "", "", m("560.00")],
    ["Total for Oakridge Property Management", "", "", "", "", "", "", m("3,531.15")],
    ["Pinecrest HOA"],
    ["", d("04/22/2025"), "Invoice", "1007", "Yes", "Voided", "Accounts Receivable (A/R)", m("0.00")],
    ["", d("04/25/2025"), "Invoice", "1008", "Yes", "Annual irrigation backflow testing", "Accounts Receivable (A/R)", m("650.00")],
    ["", d("05/20/2025"), "Payment", "3301", "Yes", "", "Undeposited Funds", m("650.00")],
    ["", d("06/12/2025"), "Credit Memo", "CM-103", "Yes", "Duplicate trip charge on 1008", "Accounts Receivable (A/R)", m("-75.00")],
    ["Total for Pinecrest HOA", "", "", "", "", "", "", m("1,225.00")],
    ["TOTAL", "", "", "", "", "", "", m("6,124.35")],
    [],
    [FOOTER],
]  # fmt: skip

WORKBOOKS = {
    "harbor_customer_balance_detail.xlsx": CUSTOMER_BALANCE_DETAIL,
    "harbor_ar_aging_detail.xlsx": AR_AGING_DETAIL,
    "transaction_list_jobs.xlsx": TRANSACTION_LIST_JOBS,
}


def main() -> None:
    folder = SAMPLES / "quickbooks_report"
    for name, rows in WORKBOOKS.items():
        write_report(folder / name, rows)


if __name__ == "__main__":
    main()
