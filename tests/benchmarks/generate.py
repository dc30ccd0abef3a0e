"""A seeded generator of realistic billing exports at any scale.

The same invoices (customers, 1-5 lines, 20 %/0 % VAT computed in pence, statuses with
part payments, voids and drafts) are written in three layouts: Xero's 44-column sales
invoice CSV export (one row per line, DD/MM/YYYY dates), the QuickBooks Online API batch
envelope (customers, then invoices, one JSON entity each) and billfold's generic CSV.
The same seed gives byte-identical files.

Three accounts have a fixed shape, so page benchmarks compare like with like: customer
0 ("big") gets 1 % of all invoices (10,000 in a 1M-invoice store), customer 1 ("steady")
exactly 100 at every scale and customer 2 ("statement") 3,000 over the six years, about
500 a year, so a 12-month statement holds some 500 transactions.
The rest follow a skew: half the invoices go to a quarter of the customers.

    python -m tests.benchmarks.generate --invoices 100000 --format xero_csv --out x.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

FIRST = (
    "Maple", "Oakridge", "Harbor", "Pinecrest", "Bayview", "Cedar", "Northgate", "Elm",
    "Riverside", "Summit", "Lakeside", "Granite", "Willow", "Beacon", "Meadow", "Aspen",
)  # fmt: skip
LAST = (
    "Dental", "Property Management", "Café", "HOA", "Bakery", "Veterinary Clinic",
    "Apartments", "School", "Fitness", "Motors", "Florist", "Law Office", "Hotel",
    "Brewing Co", "Pharmacy", "Library",
)  # fmt: skip
ITEMS = (
    ("SERVICE-CALL", "Service call / diagnostics", 9500),
    ("PLUMBER", "Labour - plumber (hour)", 12500),
    ("DRAIN", "Main line drain cleaning (hydro-jet)", 45000),
    ("WATER-HEATER-50G", "50-gal gas water heater", 138900),
    ("VALVE", "Shut-off valve, 3/4 in", 2450),
    ("FILTER", "Furnace filter, pleated", 1299),
    ("INSPECT", "Annual boiler inspection", 18000),
    ("CALLOUT", "Emergency call-out surcharge", 7500),
)
STATUSES = (  # (weight, status)
    (55, "paid"),
    (25, "open"),
    (10, "part_paid"),
    (5, "void"),
    (5, "draft"),
)
START = date(2019, 1, 1)
DAYS = 6 * 365


def _names(text: str) -> list[str]:
    return text.split(",")


XERO_HEADER = _names(
    "ContactName,EmailAddress,POAddressLine1,POAddressLine2,POAddressLine3,"
    "POAddressLine4,POCity,PORegion,POPostalCode,POCountry,SAAddressLine1,SAAddressLine2,"
    "SAAddressLine3,SAAddressLine4,SACity,SARegion,SAPostalCode,SACountry,InvoiceNumber,"
    "Reference,InvoiceDate,DueDate,PlannedDate,Total,TaxTotal,InvoiceAmountPaid,"
    "InvoiceAmountDue,InventoryItemCode,Description,Quantity,UnitAmount,Discount,"
    "LineAmount,AccountCode,TaxType,TaxAmount,TrackingName1,TrackingOption1,"
    "TrackingName2,TrackingOption2,Currency,Type,Sent,Status"
)
XERO_STATUS = {
    "paid": "Paid",
    "open": "Awaiting Payment",
    "part_paid": "Awaiting Payment",
    "void": "Voided",
    "draft": "Draft",
}
GENERIC_HEADER = _names(
    "record_type,number,customer_id,customer_name,customer_email,issue_date,due_date,"
    "currency,status,subtotal,tax,total,amount_paid,amount_credited,balance_due,line_no,"
    "line_description,line_quantity,line_unit_price,line_amount,line_tax,memo"
)
GENERIC_STATUS = {
    "paid": "paid",
    "open": "open",
    "part_paid": "partially_paid",
    "void": "void",
    "draft": "draft",
}
FORMATS = ("xero_csv", "generic_csv", "quickbooks_api")
# billfold dates an export by its file's modification time (cash an export reports
# without payment records is known "as of" then), so generated files carry the evening
# after their last invoice, as a real export would; a changed copy, the day after its
# source's.
EXPORTED = datetime.combine(START + timedelta(days=DAYS + 1), time(18), UTC).timestamp()
VERSION = 2  # of the generator: part of the file name, so a changed generator rewrites
SUFFIX = {"xero_csv": ".csv", "generic_csv": ".csv", "quickbooks_api": ".json"}


@dataclass(frozen=True, slots=True)
class Customer:
    """One customer of the generated business."""

    index: int
    name: str
    email: str
    street: str


@dataclass(slots=True)
class Line:
    """One invoice line, amounts in pence."""

    code: str
    description: str
    quantity: int
    unit: int
    amount: int
    tax: int
    rate: int  # VAT percent


@dataclass(slots=True)
class Invoice:
    """One generated invoice, amounts in pence."""

    number: str
    customer: Customer
    issued: date
    due: date
    status: str
    lines: list[Line]
    subtotal: int
    tax: int
    total: int
    paid: int
    due_amount: int
    reference: str


def pounds(pence: int) -> str:
    """Return pence as a 2-decimal string (exact, no float)."""
    sign = "-" if pence < 0 else ""
    pence = abs(pence)
    return f"{sign}{pence // 100}.{pence % 100:02d}"


def customer_count(invoices: int) -> int:
    """Customers for a store of *invoices* invoices (one per 50, at least 20)."""
    return max(20, invoices // 50)


def big_share(invoices: int) -> int:
    """How many invoices the big account (customer 0) gets: 1 % of the store."""
    return invoices // 100


STEADY = 100  # invoices of customer 1 at every scale
STATEMENT = 3000  # invoices of customer 2: about 500 a year


def customers(count: int) -> list[Customer]:
    """Deterministic customers: names are unique by index."""
    out = []
    for i in range(count):
        first = FIRST[i % len(FIRST)]
        last = LAST[(i // len(FIRST)) % len(LAST)]
        name = f"{first} {last} {i:05d}"
        slug = f"{first}{last}".lower().replace(" ", "").replace("é", "e")
        out.append(
            Customer(i, name, f"ap{i}@{slug}.example", f"{10 + i % 890} {first} St")
        )
    return out


def invoices(count: int, seed: int = 42) -> Iterator[Invoice]:
    """Yield *count* invoices, the same ones for the same seed."""
    rng = random.Random(seed)
    people = customers(customer_count(count))
    hot = max(4, len(people) // 4)
    big, steady = big_share(count), min(STEADY, count // 4)
    statement = min(STATEMENT, count // 4)
    # Which invoice goes to the fixed-shape accounts: evenly spread through the file.
    big_every = count // big if big else 0
    steady_every = count // steady if steady else 0
    statement_every = count // statement if statement else 0
    weights = [w for w, _ in STATUSES]
    names = [s for _, s in STATUSES]
    for n in range(count):
        if big_every and n % big_every == 0 and n // big_every < big:
            who = people[0]
        elif steady_every and n % steady_every == 1 and n // steady_every < steady:
            who = people[1]
        elif (
            statement_every
            and n % statement_every == 2
            and n // statement_every < statement
        ):
            who = people[2]
        elif rng.random() < 0.5:
            who = people[rng.randrange(3, hot)]
        else:
            who = people[rng.randrange(3, len(people))]
        issued = START + timedelta(days=(n * DAYS) // count)
        due = issued + timedelta(days=rng.choice((14, 30, 30, 30, 60)))
        lines = []
        for _ in range(rng.choice((1, 2, 3, 3, 3, 4, 5))):
            code, text, unit = ITEMS[rng.randrange(len(ITEMS))]
            quantity = rng.choice((1, 1, 1, 2, 3, 4))
            amount = unit * quantity
            rate = 20 if rng.random() < 0.7 else 0
            tax = (amount * rate + 50) // 100
            lines.append(Line(code, text, quantity, unit, amount, tax, rate))
        subtotal = sum(x.amount for x in lines)
        tax = sum(x.tax for x in lines)
        total = subtotal + tax
        status = rng.choices(names, weights)[0]
        if status == "paid":
            paid, due_amount = total, 0
        elif status == "part_paid":
            paid = total * rng.choice((10, 25, 50, 75)) // 100
            due_amount = total - paid
        elif status in ("void", "draft"):
            paid, due_amount = 0, 0
        else:
            paid, due_amount = 0, total
        yield Invoice(
            number=f"INV-{n + 1:07d}",
            customer=who,
            issued=issued,
            due=due,
            status=status,
            lines=lines,
            subtotal=subtotal,
            tax=tax,
            total=total,
            paid=paid,
            due_amount=due_amount,
            reference=f"PO {rng.randrange(10000, 99999)}" if rng.random() < 0.3 else "",
        )


def dmy(day: date) -> str:
    """DD/MM/YYYY, as a UK/NZ/AU Xero organisation writes dates."""
    return f"{day.day:02d}/{day.month:02d}/{day.year}"


def write_xero_csv(path: Path, count: int, seed: int = 42) -> int:
    """Write Xero's 44-column sales invoice export; return the number of data rows."""
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(XERO_HEADER)
        for inv in invoices(count, seed):
            c = inv.customer
            head = [
                c.name, c.email, c.street, "", "", "", "Portsmouth", "Hampshire",
                "PO1 2AB", "United Kingdom", "", "", "", "", "", "", "", "",
                inv.number, inv.reference, dmy(inv.issued), dmy(inv.due), "",
                pounds(inv.total), pounds(inv.tax), pounds(inv.paid),
                pounds(inv.due_amount),
            ]  # fmt: skip
            status = XERO_STATUS[inv.status]
            sent = "Sent" if inv.status != "draft" else "Unsent"
            for line in inv.lines:
                writer.writerow(
                    [
                        *head, line.code, line.description, f"{line.quantity}.0000",
                        f"{pounds(line.unit)}00", "", pounds(line.amount), "200",
                        "20% (VAT on Income)" if line.rate else "Zero Rated Income",
                        pounds(line.tax), "", "", "", "", "GBP", "Sales invoice", sent,
                        status,
                    ]
                )  # fmt: skip
                rows += 1
    return rows


def write_generic_csv(path: Path, count: int, seed: int = 42) -> int:
    """Write billfold's generic CSV, one row per line; return the number of data rows."""
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(GENERIC_HEADER)
        for inv in invoices(count, seed):
            c = inv.customer
            credited = 0
            head = [
                "invoice", inv.number, f"C{c.index}", c.name, c.email,
                inv.issued.isoformat(), inv.due.isoformat(), "GBP",
                GENERIC_STATUS[inv.status], pounds(inv.subtotal), pounds(inv.tax),
                pounds(inv.total), pounds(inv.paid), pounds(credited),
                pounds(inv.due_amount),
            ]  # fmt: skip
            for position, line in enumerate(inv.lines, start=1):
                writer.writerow(
                    [
                        *head, position, line.description, line.quantity,
                        pounds(line.unit), pounds(line.amount), pounds(line.tax),
                        inv.reference,
                    ]
                )  # fmt: skip
                rows += 1
    return rows


def _qb_number(pence: int) -> str:
    # QuickBooks writes amounts as JSON numbers: 2060.4, 95, 1389.0
    return pounds(pence)


def write_quickbooks_api(path: Path, count: int, seed: int = 42) -> int:
    """Write a QuickBooks Online batch response (customers, invoices); return lines."""
    rows = 0
    people = customers(customer_count(count))
    with path.open("w", encoding="utf-8") as out:
        out.write('{"BatchItemResponse": [{"QueryResponse": {"Customer": [')
        for i, c in enumerate(people):
            entity = {
                "Id": str(1000 + c.index),
                "SyncToken": "0",
                "DisplayName": c.name,
                "FullyQualifiedName": c.name,
                "PrimaryEmailAddr": {"Address": c.email},
                "BillAddr": {"Line1": c.street, "City": "Portsmouth"},
                "CurrencyRef": {"value": "GBP"},
                "Active": True,
                "MetaData": {"LastUpdatedTime": "2025-06-25T14:03:09-07:00"},
            }
            out.write(("," if i else "") + json.dumps(entity))
        out.write(
            f'], "startPosition": 1, "maxResults": {len(people)}}}, "bId": "customers"}},'
            ' {"QueryResponse": {"Invoice": ['
        )
        for n, inv in enumerate(invoices(count, seed)):
            lines = []
            for position, line in enumerate(inv.lines, start=1):
                lines.append(
                    f'{{"Id": "{position}", "LineNum": {position}, '
                    f'"Description": {json.dumps(line.description)}, '
                    f'"Amount": {_qb_number(line.amount)}, '
                    f'"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": '
                    f'{{"ItemRef": {{"value": "{position}", "name": "{line.code}"}}, '
                    f'"UnitPrice": {_qb_number(line.unit)}, "Qty": {line.quantity}, '
                    f'"TaxCodeRef": {{"value": "{"TAX" if line.rate else "NON"}"}}}}}}'
                )
                rows += 1
            lines.append(
                f'{{"Amount": {_qb_number(inv.subtotal)}, '
                '"DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}'
            )
            total, balance = inv.total, inv.due_amount
            note = ""
            if inv.status == "void":
                total, balance, note = 0, 0, ', "PrivateNote": "Voided"'
            if inv.status == "draft":
                balance = total  # QuickBooks has no drafts: an unsent open invoice
            ref = json.dumps(inv.reference) if inv.reference else None
            custom = (
                f'[{{"DefinitionId": "1", "Name": "P.O. Number", "Type": '
                f'"StringType", "StringValue": {ref}}}]'
                if ref
                else "[]"
            )
            out.write(
                ("," if n else "")
                + f'{{"Id": "{n + 1}", "SyncToken": "0", "DocNumber": "{inv.number}", '
                f'"TxnDate": "{inv.issued.isoformat()}", '
                f'"DueDate": "{inv.due.isoformat()}", "CurrencyRef": {{"value": "GBP"}}, '
                f'"CustomField": {custom}, "Line": [{", ".join(lines)}], '
                f'"TxnTaxDetail": {{"TotalTax": {_qb_number(inv.tax)}}}, '
                f'"CustomerRef": {{"value": "{1000 + inv.customer.index}", '
                f'"name": {json.dumps(inv.customer.name)}}}, '
                f'"TotalAmt": {_qb_number(total)}, "Balance": {_qb_number(balance)}, '
                f'"MetaData": {{"CreateTime": "{inv.issued.isoformat()}T09:00:00Z", '
                f'"LastUpdatedTime": "{inv.issued.isoformat()}T09:00:00Z"}}{note}}}'
            )
        out.write(
            f'], "startPosition": 1, "maxResults": {count}}}, "bId": "invoices"}}], '
            '"time": "2025-06-30T16:12:00.000-07:00"}'
        )
    return rows


WRITERS = {
    "xero_csv": write_xero_csv,
    "generic_csv": write_generic_csv,
    "quickbooks_api": write_quickbooks_api,
}


def changed_copy(source: Path, target: Path, every: int = 100) -> int:
    """Copy a Xero CSV export changing one invoice in *every*.

    An open invoice is paid in full; any other gets an amended Reference. Returns how
    many invoices changed; their rows and lines stay, only their content hash moves.
    """
    changed = 0
    seen = -1
    last = None
    with (
        source.open(newline="", encoding="utf-8") as src,
        target.open("w", newline="", encoding="utf-8") as out,
    ):
        reader = csv.reader(src)
        writer = csv.writer(out, lineterminator="\r\n")
        header = next(reader)
        writer.writerow(header)
        col = {name: i for i, name in enumerate(header)}
        for row in reader:
            number = row[col["InvoiceNumber"]]
            if number != last:
                seen += 1
                last = number
                hit = seen % every == 0
                changed += hit
            if hit and row[col["Status"]] == "Awaiting Payment":
                row[col["InvoiceAmountPaid"]] = row[col["Total"]]
                row[col["InvoiceAmountDue"]] = "0.00"
                row[col["Status"]] = "Paid"
            elif hit:
                row[col["Reference"]] = f"{row[col['Reference']]} (amended)".strip()
            writer.writerow(row)
    next_day = source.stat().st_mtime + 86400
    os.utime(target, (next_day, next_day))
    return changed


def ensure(folder: Path, fmt: str, count: int, seed: int = 42) -> tuple[Path, int]:
    """Return (path, data rows) of a generated export, writing it once per folder."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{fmt}-{count}-s{seed}-v{VERSION}{SUFFIX[fmt]}"
    rows_file = path.with_suffix(path.suffix + ".rows")
    if path.exists() and rows_file.exists():
        os.utime(path, (EXPORTED, EXPORTED))
        return path, int(rows_file.read_text())
    tmp = path.with_suffix(path.suffix + ".tmp")
    rows = WRITERS[fmt](tmp, count, seed)
    os.utime(tmp, (EXPORTED, EXPORTED))
    tmp.replace(path)
    rows_file.write_text(str(rows))
    return path, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, required=True)
    parser.add_argument("--format", choices=FORMATS, default="xero_csv")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rows = WRITERS[args.format](args.out, args.invoices, args.seed)
    print(f"{args.out}: {args.invoices} invoices, {rows} line rows")


if __name__ == "__main__":
    main()
