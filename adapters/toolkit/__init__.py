"""What every adapter reads with: the machinery shared by all export formats.

- ``text``: decide a file's encoding from its bytes and decode its head;
- ``csv_rows``: stream CSV rows with their line numbers and how the file ends;
- ``cells``: read one cell (amounts, dates, timestamps; the file's day/month order);
- ``columns``: the columns an adapter declares, found in a header by name, never by
  position;
- ``table`` and ``tabular``: a tabular export as a column mapping plus a record
  builder (the header, the day/month order, widths, records, rejections);
- ``json_stream`` and ``json_fields``: stream API exports and read their typed fields;
- ``keys``: which customer ids are real, and keys for documents without ids.

Modules here import only ``schemas``, ``adapters.base`` and ``adapters.errors``; no
format's knowledge lives here.
"""
