"""Export formats billfold reads, one module per format.

To add one: write a module with a class providing ``name``, ``label``, ``detect(head)``
and ``parse(export, options)`` (see ``adapters.base``), then add it to
``BUILTIN_ADAPTERS`` below, or ship it in another package under the
``billfold.adapters`` entry-point group.
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
