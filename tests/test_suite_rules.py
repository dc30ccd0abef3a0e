"""The rules of the whole run (tests/suite_rules.py), in a pytest of their own: a skipped
test fails the run, in one process and across pytest-xdist workers; tests marked
``alone`` never run beside others."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Each case starts a pytest (and its xdist workers): seconds each, so CI runs them.
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent

SKIPPING = """
import pytest

def test_runs():
    assert True

def test_needs_a_server():
    pytest.skip("PostgreSQL is not running")
"""

SKIPPED_MODULE = """
import pytest

pytest.skip("Chromium is not installed", allow_module_level=True)

def test_browser():
    assert True
"""

ALONE = """
import pytest

def test_beside_others():
    assert True

@pytest.mark.alone
def test_restarts_the_server():
    assert True
"""


def pytest_run(folder: Path, files: dict[str, str], *args: str) -> tuple[int, str]:
    """Run a pytest of its own in *folder* with the suite's rules; (exit code, output)."""
    for name, body in files.items():
        (folder / name).write_text(textwrap.dedent(body))
    (folder / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.suite_rules", "-p", "no:cacheprovider", "-rA", *args],
        cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one process", "xdist"])
def test_a_skipped_test_fails_the_run_and_is_named(tmp_path, workers):
    code, out = pytest_run(tmp_path, {"test_skips.py": SKIPPING}, *workers)
    assert code == 1, out
    assert "skipped tests fail the run" in out
    assert "test_skips.py::test_needs_a_server" in out
    assert "1 passed, 1 skipped" in out


def test_a_module_skipped_on_an_xdist_worker_fails_the_run(tmp_path):
    code, out = pytest_run(tmp_path, {"test_browser.py": SKIPPED_MODULE}, "-n", "2")
    assert code == 1, out
    assert "skipped tests fail the run" in out
    assert "test_browser.py" in out


def test_a_run_without_skips_passes(tmp_path):
    code, out = pytest_run(tmp_path, {"test_alone.py": ALONE}, "-n", "2")
    assert code == 0, out


def test_tests_marked_alone_are_left_out_of_a_parallel_run_and_run_by_themselves(
    tmp_path,
):
    code, out = pytest_run(tmp_path, {"test_alone.py": ALONE}, "-n", "2")
    assert code == 0, out
    assert "PASSED test_alone.py::test_beside_others" in out
    assert "test_restarts_the_server" not in out.split("short test summary")[-1]
    assert "`pytest -n 0 --alone=only` runs them" in out

    code, out = pytest_run(tmp_path, {"test_alone.py": ALONE}, "--alone=only")
    assert code == 0, out
    assert "1 passed, 1 deselected" in out
    assert "PASSED test_alone.py::test_restarts_the_server" in out

    code, out = pytest_run(tmp_path, {"test_alone.py": ALONE})
    assert code == 0 and "2 passed" in out, out  # one process: everything runs

    code, out = pytest_run(
        tmp_path, {"test_alone.py": ALONE}, "--alone=only", "-n", "2"
    )
    assert code != 0 and "add -n 0" in out, out


def test_the_test_command_keeps_compiled_modules_and_sets_the_database_per_leg():
    from tests.__main__ import pytest_environment

    env = pytest_environment(
        {"PATH": "/bin", "PYTHONDONTWRITEBYTECODE": "1", "BILLFOLD_TEST_DATABASE": "x"}
    )
    assert env == {"PATH": "/bin"}
