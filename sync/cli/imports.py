"""``billfold import``: hand files to the import pipeline and report each one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from sync.cli.context import Context, fail, guard, pass_context

# -- import -----------------------------------------------------------------------


def _human_import(result: Any) -> None:
    status = result.status.upper()
    click.echo(
        f"{result.file}: {status}" + (f" ({result.adapter})" if result.adapter else "")
    )
    if result.reason:
        click.echo(f"  reason: {result.reason}")
    if result.status == "applied":
        click.echo(
            f"  created {result.created}, updated {result.updated}, unchanged "
            f"{result.unchanged}, rejected {len(result.rejected)}"
        )
    for r in result.rejected[:50]:
        where = f"line {r['line']}" if r["line"] else "?"
        col = f", column {r['column']}" if r["column"] else ""
        val = f", value {r['value']!r}" if r["value"] is not None else ""
        click.echo(f"  rejected {r['record'] or ''} ({where}{col}{val}): {r['reason']}")
    if len(result.rejected) > 50:
        click.echo(
            f"  ... and {len(result.rejected) - 50} more rejected records (see --json)"
        )
    for w in result.warnings:
        click.echo(f"  warning: {w}")


@click.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--source", default="default", show_default=True, help="Source the files come from."
)
@click.option(
    "--adapter",
    default=None,
    help="Read every file with this adapter (skip detection).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@pass_context
@guard
def import_command(
    ctx: Context,
    paths: tuple[Path, ...],
    source: str,
    adapter: str | None,
    as_json: bool,
) -> None:
    """Import billing exports (CSV, QuickBooks, Xero) into the store."""
    from sync.engine.pipeline import import_file

    store = ctx.store()
    results = []
    for path in paths:
        if path.is_dir():
            fail(f"{path} is a directory; pass the export files themselves", 2)
        show_progress = (
            sys.stderr.isatty()
            and not as_json
            and path.exists()
            and path.stat().st_size > 4 << 20
        )
        if show_progress:
            with click.progressbar(
                length=path.stat().st_size, label=path.name, file=sys.stderr
            ) as bar:
                last = [0]

                def progress(done: int, total: int, bar=bar, last=last) -> None:
                    bar.update(done - last[0])
                    last[0] = done

                result = import_file(
                    store,
                    ctx.settings,
                    path,
                    source=source,
                    adapter=adapter,
                    on_progress=progress,
                )
        else:
            result = import_file(
                store, ctx.settings, path, source=source, adapter=adapter
            )
        results.append(result)
        if not as_json:
            _human_import(result)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2))
    if not all(r.ok for r in results):
        sys.exit(1)
