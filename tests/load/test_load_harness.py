"""The load harness itself works: a short run signs contacts in by email, browses, and
finds nothing lost, on the suite's database. (The published figures come from the full ``python -m tests.load``.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TEST_DATABASE

# It loads the whole machine (a gunicorn portal, locust users) and checks what was served.
pytestmark = [pytest.mark.slow, pytest.mark.alone]
ROOT = Path(__file__).resolve().parents[2]


def test_quick_load_run_serves_every_request_and_loses_nothing(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "tests.load", "--quick", "--work", str(tmp_path)]
    if TEST_DATABASE != "sqlite":
        command += ["--database", TEST_DATABASE]
    done = subprocess.run(
        command,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    report_file = tmp_path / "load-report.json"
    assert report_file.exists(), done.stdout + done.stderr
    report = json.loads(report_file.read_text())
    assert report["checks"]["passed"], report["checks"]
    first = report["holds"][0]
    assert first["failures"] == 0, first["errors"]
    # Every part of a visit happened: email sign-in, pages, PDFs, statements, ZIPs.
    for name in (
        "POST /sign-in/<token> [sign in]",
        "GET /invoices",
        "GET /invoices/<id>/pdf",
        "GET /statements/download [pdf, 12 months]",
        "POST /invoices/download [ZIP of 5 PDFs]",
    ):
        assert first["counts"].get(name, 0) > 0, (name, first["counts"])
    assert report["checks"]["served"]["sign-in"] >= report["contacts"] // 3
