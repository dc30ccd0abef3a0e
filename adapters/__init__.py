"""Export formats billfold reads, one module per format.

To add one: write a module with a class providing ``name``, ``label``, ``detect(head)``
and ``parse(export, options)`` (see ``adapters.base``), then add it to
``BUILTIN_ADAPTERS`` below, or ship it in another package under the
``billfold.adapters`` entry-point group.
"""

from adapters.generic_csv import GenericCsv
from adapters.xero_api import XeroApi

BUILTIN_ADAPTERS: tuple = (GenericCsv, XeroApi)
