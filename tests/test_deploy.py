"""deploy/ and docs/deploy.md, run as written: the systemd units' commands (parsed from
their ExecStart lines) with the one-box configuration of docs/deploy.md, on this test
run's database; and README's "Running at scale" recipe, line by line.

Only paths are changed (``/opt/billfold/bin`` is this environment's, ``/var/lib/billfold``
and the other folders are the test's), and the port, so tests can run side by side.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.databases import fresh_schema, on_postgres
from tests.helpers import SAMPLE_LEDGER
from tests.workers import free_port, wait_until, worker_env

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy"
BIN = Path(sys.executable).parent


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Read a systemd unit: {section: {key: [values in order]}}."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, sep, value = line.partition("=")
        assert sep, f"{path.name}: {raw!r} is not key=value"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def systemd_words(line: str, places: dict[str, str]) -> list[str]:
    """A command line as systemd would run it: its escapes undone ("%%" is "%",
    "$$" is "$"), this test's folders in place of the real ones."""
    line = line.replace("%%", "%").replace("$$", "$")
    for real, here in places.items():
        line = line.replace(real, here)
    return shlex.split(line)


def one_box_config() -> str:
    """The configuration file docs/deploy.md's "One box" section writes."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    section = text[text.index("## One box") : text.index("## TLS")]
    [config] = re.findall(r"```toml\n(.*?)```", section, flags=re.S)
    return textwrap.dedent(config).strip() + "\n"


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


class Box:
    """The machine of docs/deploy.md's "One box", in a temporary folder."""

    def __init__(self, tmp: Path, database_url: str) -> None:
        self.tmp = tmp
        self.places = {
            "/opt/billfold/bin/": f"{BIN}/",
            "/etc/billfold/config.toml": str(tmp / "etc" / "config.toml"),
            "/var/lib/billfold": str(tmp / "var-lib-billfold"),
            "/var/backups/billfold": str(tmp / "var-backups-billfold"),
            "/srv/billfold/inbox": str(tmp / "srv-inbox"),
        }
        for key in (
            "/var/lib/billfold",
            "/var/backups/billfold",
            "/srv/billfold/inbox",
        ):
            Path(self.places[key]).mkdir(parents=True)
        config = Path(self.places["/etc/billfold/config.toml"])
        config.parent.mkdir()
        text = one_box_config()
        for real, here in self.places.items():
            text = text.replace(real, here)
        if on_postgres():  # top-level keys come before the first table
            text = f'database_url = "{database_url}"\n' + text
        config.write_text(text)
        self.logs: list[Path] = []

    def service(self, name: str) -> dict[str, list[str]]:
        return parse_unit(UNITS / name)["Service"]

    def env(self, service: dict[str, list[str]]) -> dict[str, str]:
        extra = {}
        for assignment in service.get("Environment", []):
            key, _, value = systemd_words(assignment, self.places)[0].partition("=")
            extra[key] = value
        env = worker_env(extra)
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        return env

    def start(self, name: str, key: str = "ExecStart", **swap: str) -> subprocess.Popen:
        service = self.service(name)
        [line] = service[key]
        for old, new in swap.items():
            line = line.replace(old, new)
        log = self.tmp / f"{name}.log"
        self.logs.append(log)
        with log.open("ab") as out:
            return subprocess.Popen(
                systemd_words(line, self.places),
                cwd=systemd_words(service["WorkingDirectory"][0], self.places)[0],
                env=self.env(service), stdout=out, stderr=out,
            )  # fmt: skip

    def run(self, name: str, key: str) -> int:
        return self.start(name, key).wait(300)

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")


def stop(proc: subprocess.Popen, service: dict[str, list[str]]) -> int:
    """Stop as systemd would: KillSignal, then wait up to TimeoutStopSec."""
    signum = getattr(signal, service["KillSignal"][0])
    timeout = int(service["TimeoutStopSec"][0])
    if proc.poll() is None:
        proc.send_signal(signum)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(30)
        raise


def test_the_units_run_as_billfold_in_its_folders_and_can_write_only_there():
    config = one_box_config()
    data_dir = re.search(r'^data_dir = "(.+)"$', config, flags=re.M).group(1)
    inbox = re.search(r'^path = "(.+)"$', config, flags=re.M).group(1)
    for name in ("billfold-web.service", "billfold-worker.service", "billfold-backup.service"):  # fmt: skip
        service = parse_unit(UNITS / name)["Service"]
        assert service["User"] == ["billfold"] and service["UMask"] == ["0077"]
        assert service["WorkingDirectory"] == [data_dir]
        assert service["Environment"] == ["BILLFOLD_CONFIG=/etc/billfold/config.toml"]
        writable = service["ReadWritePaths"][0].split()
        assert data_dir in writable
    worker = parse_unit(UNITS / "billfold-worker.service")["Service"]
    assert inbox in worker["ReadWritePaths"][0].split()
    timer = parse_unit(UNITS / "billfold-backup.timer")
    assert (UNITS / "billfold-backup.service").is_file() and timer["Timer"][
        "OnCalendar"
    ]
    if shutil.which("systemd-analyze"):  # a lint where systemd is installed
        for unit in sorted(UNITS.iterdir()):
            done = subprocess.run(
                ["systemd-analyze", "verify", "--man=no", str(unit)],
                capture_output=True, text=True, check=False,
            )  # fmt: skip
            problems = [
                line
                for line in (done.stdout + done.stderr).splitlines()
                if line.strip()
                and "/opt/billfold/bin/billfold is not executable" not in line
            ]
            assert problems == [], f"{unit.name}: {problems}"


@pytest.mark.slow
def test_one_box_runs_as_its_units_say(tmp_path):
    with fresh_schema(tmp_path / "db") as url:
        box = Box(tmp_path, url)
        config = {"BILLFOLD_CONFIG": box.places["/etc/billfold/config.toml"]}
        # docs/deploy.md, step 3: the store is created before the units start.
        upgrade = subprocess.run(
            [str(BIN / "billfold"), "db", "upgrade"],
            env=worker_env(config), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert upgrade.returncode == 0, upgrade.stderr
        port = free_port()
        web = box.start("billfold-web.service", **{"--port 8000": f"--port {port}"})
        worker = box.start("billfold-worker.service")
        try:
            inbox = Path(box.places["/srv/billfold/inbox"])
            shutil.copy(SAMPLE_LEDGER, inbox / SAMPLE_LEDGER.name)

            def web_up() -> bool:
                assert web.poll() is None, box.log("billfold-web.service")
                return _get(f"http://127.0.0.1:{port}/healthz") == 200

            wait_until(web_up, 120, "billfold-web to answer /healthz")
            assert _get(f"http://127.0.0.1:{port}/sign-in") == 200

            def imported() -> bool:
                assert worker.poll() is None, box.log("billfold-worker.service")
                return any((inbox / "processed").glob("*" + SAMPLE_LEDGER.name))

            wait_until(imported, 120, "billfold-worker to import the dropped export")

            backups = Path(box.places["/var/backups/billfold"])
            old = backups / "20000101T000000Z"
            old.mkdir()
            month_ago = time.time() - 30 * 86400
            os.utime(old, (month_ago, month_ago))
            assert box.run("billfold-backup.service", "ExecStart") == 0, box.log(
                "billfold-backup.service"
            )
            assert box.run("billfold-backup.service", "ExecStartPost") == 0
            [made] = [p for p in backups.iterdir()]
            assert re.fullmatch(r"\d{8}T\d{6}Z", made.name) and made != old
            assert (made / "manifest.json").is_file()
        finally:
            web_code = stop(web, box.service("billfold-web.service"))
            worker_code = stop(worker, box.service("billfold-worker.service"))
        assert web_code == 0, box.log("billfold-web.service")
        assert worker_code == 0, box.log("billfold-worker.service")


# -- README: Running at scale ------------------------------------------------------------


def readme_scale_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Running at scale") :]
    section = section[: section.index("\n## ", 1)]
    [block] = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


@pytest.mark.slow
def test_readme_running_at_scale_word_for_word(tmp_path):
    commands = readme_scale_commands()
    assert commands == [
        "export BILLFOLD_CONFIG=/etc/billfold/config.toml",
        "billfold db upgrade",
        "gunicorn -c python:sync.serving -w 4 -b 0.0.0.0:8000 'portal.wsgi:app'",
        "billfold run",
    ]
    with fresh_schema(tmp_path / "db") as url:
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        config = tmp_path / "config.toml"
        config.write_text(
            f'database_url = "{url}"\ndata_dir = "{tmp_path / "data"}"\n'
            'secret_key = "the same on every node"\n'
            f'[[sources]]\nname = "books"\nkind = "folder"\npath = "{inbox}"\n'
        )
        env = worker_env()
        env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
        name, _, value = commands[0].removeprefix("export ").partition("=")
        assert value == "/etc/billfold/config.toml"
        env[name] = str(config)

        def run(line: str, **swap: str) -> subprocess.Popen:
            for old, new in swap.items():
                line = line.replace(old, new)
            with (tmp_path / f"{shlex.split(line)[0]}.log").open("ab") as log:
                return subprocess.Popen(
                    shlex.split(line), cwd=tmp_path, env=env, stdout=log, stderr=log
                )

        assert run(commands[1]).wait(120) == 0
        port = free_port()
        web = run(commands[2], **{"0.0.0.0:8000": f"127.0.0.1:{port}"})
        worker = run(commands[3])
        try:
            shutil.copy(SAMPLE_LEDGER, inbox / SAMPLE_LEDGER.name)

            def serving() -> bool:
                log = (tmp_path / "gunicorn.log").read_text()
                assert web.poll() is None, log
                return (
                    log.count("Booting worker with pid") == 4
                    and _get(f"http://127.0.0.1:{port}/sign-in") == 200
                    and _get(f"http://127.0.0.1:{port}/readyz") == 200
                )

            wait_until(serving, 120, "four web workers serving")
            wait_until(
                lambda: any((inbox / "processed").glob("*" + SAMPLE_LEDGER.name)),
                120,
                "the worker to import the export",
            )
        finally:
            for proc in (web, worker):
                proc.send_signal(signal.SIGTERM)
            codes = [web.wait(60), worker.wait(120)]
        assert codes == [0, 0], (tmp_path / "gunicorn.log").read_text()
        assert "Traceback" not in (tmp_path / "gunicorn.log").read_text()
        # gunicorn's lines and its access log are billfold's: key=value, one a line.
        lines = (tmp_path / "gunicorn.log").read_text().splitlines()
        assert all(line.startswith("ts=") for line in lines if line.strip()), lines
        assert any("event=http.access" in line and "/readyz" in line for line in lines)
