"""``billfold backup DEST`` and ``billfold restore SRC`` (``sync.store.backup``, ``.restore``)."""

from __future__ import annotations

from pathlib import Path

import click

from sync.cli.context import Context, guard, pass_context


@click.command()
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@pass_context
@guard
def backup(ctx: Context, dest: Path) -> None:
    """Back up the database, stored files, secret key and configuration into DEST.

    DEST is a new (or empty) folder. The database is copied consistently while
    imports and the portal go on: SQLite with its online backup API, PostgreSQL with
    pg_dump. Documents and export originals are copied from the data directory, and
    from the [storage] bucket when documents are kept in S3.
    """
    from sync.store.backup import make_backup

    make_backup(ctx.settings, ctx.store(migrate=False), dest, click.echo)


@click.command()
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_context
@guard
def restore(ctx: Context, src: Path) -> None:
    """Restore a backup made by `billfold backup` into an empty store.

    The configured database must hold no billfold data (a new database, or one whose
    tables are empty): a restore never overwrites anything. Stored files go to the
    data directory (and the [storage] bucket); the secret key is put back, so signed
    cookies and forms from before the backup keep working.
    """
    from sync.store.restore import restore_backup

    restore_backup(ctx.settings, ctx.store(migrate=False), src, click.echo)
