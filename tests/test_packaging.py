"""An installed billfold holds everything the checkout runs: code, templates, static
files, migrations and the demo's data; and it works from a wheel, away from the checkout.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
from setuptools import find_packages

from tests.databases import fresh_database, on_postgres
from tests.workers import free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
TOPS = ("schemas", "adapters", "sync", "portal")
# Files the code reads at run time, beside the modules.
DATA = (
    "portal/templates",
    "portal/static",
    "sync/store/migrations",
    "sync/cli/demo_data",
)
NOT_SOURCE = ("__pycache__", ".egg-info", ".pyc")


def _find_settings() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ]["find"]


def _checkout_files() -> set[str]:
    """Every file of the four packages in the checkout, as a wheel names it."""
    return {
        path.relative_to(ROOT).as_posix()
        for top in TOPS
        for path in (ROOT / top).rglob("*")
        if path.is_file() and not any(part in str(path) for part in NOT_SOURCE)
    }


def test_package_discovery_installs_every_folder_of_code():
    find = _find_settings()
    found = set(
        find_packages(
            where=str(ROOT), include=find["include"], exclude=find.get("exclude", ())
        )
    )
    folders_of_code = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in TOPS
        for path in (ROOT / top).rglob("*.py")
    }
    # A folder of modules without __init__.py would be left out of the wheel.
    assert folders_of_code - found == set()
    assert {p.split(".")[0] for p in found} == set(TOPS)


def test_the_demo_ships_copies_of_the_bundled_samples():
    """The demo's ledger is in the package (a wheel has no sample_exports/); it is the
    same bytes as the samples whose golden results the tests check."""
    from sync.cli.demo import DEMO_DATA, DEMO_FILES

    assert sorted(p.name for p in DEMO_DATA.iterdir()) == sorted(DEMO_FILES)
    for name in DEMO_FILES:
        sample = ROOT / "sample_exports" / "generic" / name
        assert (DEMO_DATA / name).read_bytes() == sample.read_bytes(), (
            f"sync/cli/demo_data/{name} differs from sample_exports/generic/{name}: "
            "copy the sample again"
        )


# -- the wheel, installed in a fresh virtual environment ------------------------------------


def _copy_checkout(target: Path) -> Path:
    """The checkout's files (no venv, no build output) in a folder of their own, so the
    build writes nothing into the checkout."""
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", "billfold-data",
        ".pytest_cache", ".ruff_cache", ".hypothesis", "test-artifacts", "tests",
    )  # fmt: skip
    shutil.copytree(ROOT, target, ignore=ignore)
    return target


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BILLFOLD_", "PYTHON", "VIRTUAL_ENV"))
    }
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """billfold built as a wheel and installed, with its dependencies, in a new venv."""
    work = tmp_path_factory.mktemp("wheel")
    source = _copy_checkout(work / "source")
    dist = work / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q",
         "-w", str(dist)],
        check=True, env=_clean_env(), timeout=600,
    )  # fmt: skip
    [wheel] = dist.glob("billfold-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packed = set(archive.namelist())
    missing = _checkout_files() - packed
    assert not missing, f"the wheel lacks {sorted(missing)[:20]}"
    assert {d for d in DATA if not any(n.startswith(d + "/") for n in packed)} == set()

    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    # The machine's own pip settings apply (an index, or PIP_FIND_LINKS wheels offline).
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", str(wheel)],
        check=True, env=_clean_env(), timeout=900,
    )  # fmt: skip
    return venv / "bin"


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.slow
def test_an_installed_wheel_runs_the_demo_and_serves_the_portal(installed, tmp_path):
    """From a folder that is not the checkout, with the embedded default (SQLite under
    ./billfold-data/) on the SQLite leg and a new PostgreSQL database on the other."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    billfold = str(installed / "billfold")
    with fresh_database(tmp_path / "db") as url:
        env = _clean_env(BILLFOLD_DATABASE_URL=url) if on_postgres() else _clean_env()
        if on_postgres():  # a shared database is migrated by its operator, once
            subprocess.run(
                [billfold, "db", "upgrade"], cwd=elsewhere, env=env, check=True, timeout=120
            )  # fmt: skip
        demo = subprocess.run(
            [billfold, "demo", "--no-serve"],
            cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert demo.returncode == 0, demo.stderr
        assert "harbor_ledger.csv: applied" in demo.stdout
        assert "/sign-in/" in demo.stdout
        assert (elsewhere / "billfold-data").is_dir()

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = (tmp_path / "serve.log").open("wb")
        served = subprocess.Popen(
            [billfold, "serve", "--port", str(port), "--workers", "1"],
            cwd=elsewhere, env=env, stdout=log, stderr=log,
        )  # fmt: skip
        try:

            def up() -> bool:
                assert served.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    return _get(base + "/healthz") == 200
                except OSError:
                    return False

            wait_until(up, 120, "the installed portal to answer /healthz")
            assert _get(base + "/sign-in") == 200
            assert _get(base + "/admin/sign-in") == 200
        finally:
            served.send_signal(signal.SIGTERM)
            served.wait(60)
            log.close()
        assert served.returncode == 0, (tmp_path / "serve.log").read_text()
