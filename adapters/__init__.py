"""Export formats billfold reads, one module (or package) per format.

To add one: write a class providing ``name``, ``label``, ``detect(head)`` and
``parse(export, options)`` (see ``adapters.base``); for a table (CSV, a spreadsheet)
subclass ``adapters.toolkit.tabular.TabularAdapter``: a column mapping plus a record
builder. Then add it to ``BUILTIN_ADAPTERS`` below, or ship it in another package under
the ``billfold.adapters`` entry-point group. Generic CSV is the registry's fallback
(``adapters.registry``): it is asked only when no other adapter claims a file.
"""

from adapters.generic_csv import GenericCsv
from adapters.quickbooks_api import QuickBooksApi
from adapters.quickbooks_iif import QuickBooksIif
from adapters.quickbooks_report import QuickBooksReport
from adapters.xero_api import XeroApi
from adapters.xero_csv import XeroCsv

BUILTIN_ADAPTERS: tuple = (
    GenericCsv,
    QuickBooksApi,
    QuickBooksIif,
    QuickBooksReport,
    XeroApi,
    XeroCsv,
)
