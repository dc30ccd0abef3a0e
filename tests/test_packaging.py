"""An installed billfold holds every package of the checkout."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_for_installation():
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
            "packages"
        ]
    )
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("schemas", "adapters", "sync", "portal")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found - listed == set()
