"""Fixtures for adapter tests: the example plugin, installed as pip would install it."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLE_ENTRY_POINT = (
    "[billfold.adapters]\n"
    "tiny_billing = tests.adapters.example_plugin.tiny_billing:TinyBillingCsv\n"
)


@pytest.fixture
def example_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the example adapter as a distribution: its dist-info on sys.path.

    ``billfold.adapters`` entry points are read from installed distributions, so the
    registry finds it exactly as it finds a plugin installed with pip.
    """
    site = tmp_path / "site-packages"
    dist = site / "tiny_billing_example-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tiny-billing-example\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(EXAMPLE_ENTRY_POINT)
    monkeypatch.syspath_prepend(str(site))
