"""``billfold demo``: the bundled sample exports imported into the embedded store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sync.config import Settings
from sync.errors import UsageError
from sync.ledger import balances
from sync.pipeline import import_file
from sync.store import Store

SAMPLES = Path(__file__).resolve().parent.parent / "sample_exports"
DEMO_SOURCE = "demo"
DEMO_FILES = ("generic/harbor_ledger.csv",)


def run_demo(store: Store, settings: Settings, say: Callable[[str], None]) -> None:
    """Import the demo ledger and print its balances."""
    if not SAMPLES.is_dir():
        raise UsageError(
            f"the sample exports are not at {SAMPLES}; run the demo from a source checkout"
        )
    for name in DEMO_FILES:
        result = import_file(store, settings, SAMPLES / name, source=DEMO_SOURCE)
        say(
            f"{name}: {result.status} (created {result.created}, updated "
            f"{result.updated}, unchanged {result.unchanged}, rejected "
            f"{len(result.rejected)})"
        )
    with store.read() as conn:
        rows = balances(conn)
    say("")
    say(f"{'ACCOUNT':32} {'CCY':4} {'BILLED':>10} {'PAID':>10} {'DUE':>10} {'NET':>10}")
    for r in rows:
        say(
            f"{r['account'][:32]:32} {r['currency']:4} {r['total_billed'] or '-':>10} "
            f"{r['total_paid'] or '-':>10} {r['balance_due'] or '-':>10} "
            f"{r['net_balance'] or '-':>10}"
        )
    say("")
    say(f"Data directory: {settings.data_dir}")
