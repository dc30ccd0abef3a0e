"""billfold's engine room: everything that keeps the store, in rooms of one idea each.

    errors, log, faults, config   the foundation: every room may import these
    store/     the database, migrations, set-based writes, blobs, audit
    ledger/    derived figures (the one place), balances, statements, PDFs, marks
    engine/    import_file and the batch: intake, detect, parse, validate, reconcile,
               apply; documents and manifests
    workers/   folder and S3 sources, claims, schedules, the runner, status
    access/    contacts, grants, sign-in links, sessions, invitations, mail
    cli/       the ``billfold`` command, composing all of the above

Imports point downstream only: foundation <- store <- ledger <- engine <- workers, and
ledger <- access; the cli sits on top; the portal may use any room but the cli
(tests/test_layering.py). docs/architecture.md draws the flow of one file.
"""
