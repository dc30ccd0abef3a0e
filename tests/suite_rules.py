"""Rules of the whole run, loaded by ``tests/conftest.py`` (and by its own tests with
``-p tests.suite_rules``).

* **Nothing skips.** A skipped test is a check that did not run (PostgreSQL, Chromium,
  an S3 endpoint missing...), so a run with any skip fails, with the list. Under
  pytest-xdist the controller counts the skips of every worker.
* **Tests marked ``alone`` run alone.** They restart PostgreSQL, load or measure the
  whole machine: beside other tests they would break them or measure them. When pytest
  runs in parallel (``-n``) they are deselected (counted as such, never skipped), and
  ``-n 0 --alone=only`` runs just them, in one process: ``python -m tests`` runs both
  passes.
"""

from __future__ import annotations

import os

import pytest

ALONE_CHOICES = ("include", "exclude", "only")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--alone",
        choices=ALONE_CHOICES,
        default=None,
        help="tests marked 'alone': include (default in one process), exclude "
        "(default with -n) or only (just them; with -n 0)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "alone: restarts a shared server, or loads or measures the whole machine; "
        "never runs beside other tests (see tests/suite_rules.py)",
    )


def _parallel(config: pytest.Config) -> bool:
    """True in a pytest-xdist controller started with -n, and in its workers."""
    if os.environ.get("PYTEST_XDIST_WORKER") or hasattr(config, "workerinput"):
        return True
    return bool(getattr(config.option, "numprocesses", None))


def alone_mode(config: pytest.Config) -> str:
    chosen = config.getoption("--alone")
    if chosen:
        if chosen == "only" and _parallel(config):
            raise pytest.UsageError(
                "--alone=only runs the tests that must run alone, in one process: add -n 0"
            )
        return chosen
    return "exclude" if _parallel(config) else "include"


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    mode = alone_mode(config)
    if mode == "include":
        return
    keep_alone = mode == "only"
    keep = [item for item in items if ("alone" in item.keywords) == keep_alone]
    dropped = [item for item in items if ("alone" in item.keywords) != keep_alone]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = keep


def pytest_report_header(config: pytest.Config) -> str | None:
    mode = alone_mode(config)
    if mode == "exclude":
        return (
            "tests marked 'alone' are left out of this parallel run; "
            "`pytest -n 0 --alone=only` runs them (python -m tests does both)"
        )
    return None


_reports: list[str] = []  # node ids of skipped tests (one session per process)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        _reports.append(report.nodeid)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.skipped:
        _reports.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return  # a worker: its controller sees every report and decides
    if _reports and exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    if hasattr(terminalreporter.config, "workerinput") or not _reports:
        return
    terminalreporter.write_sep("=", "skipped tests fail the run", red=True, bold=True)
    terminalreporter.write_line(
        f"{len(_reports)} test(s) skipped; every test must run in every leg "
        "(start PostgreSQL, install Chromium: see README, 'Running the tests'):"
    )
    for nodeid in sorted(set(_reports)):
        terminalreporter.write_line(f"  {nodeid}")
