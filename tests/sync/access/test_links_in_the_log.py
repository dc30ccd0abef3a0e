"""README: "with no SMTP host the links are written to the log (event=mail.not_sent)".

Proved the way an operator meets it: the real ``billfold serve`` and ``billfold demo``
run as subprocesses, a link is asked for over HTTP, and it is found in what they print:
stderr (the log) for both, and the demo's console (stdout) too.
"""

from __future__ import annotations

import http.cookiejar
import logging
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from sync.access import contacts
from sync.access.mail import send, sign_in_message
from tests.portal.conftest import seed
from tests.workers import free_port, wait_until, worker_env, write_config

LINK = r"http://127\.0\.0\.1:{port}/(?:admin/)?sign-in/[A-Za-z0-9_\-]{{40,}}"


class Browser:
    """Just enough of a browser: cookies, forms with their CSRF token, redirects."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, str]:
        try:
            with self.opener.open(self.base + path, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def submit(self, page: str, path: str, **fields: str | list[str]) -> int:
        """POST *fields* to *path* with the CSRF token of the form on *page*."""
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token, page
        data = urllib.parse.urlencode(
            {"csrf_token": token.group(1), **fields}, doseq=True
        ).encode()
        try:
            with self.opener.open(self.base + path, data=data, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code

    def ask_for_link(self, email: str, admin: bool = False) -> None:
        path = "/admin/sign-in" if admin else "/sign-in"
        status, page = self.get(path)
        assert status == 200
        assert self.submit(page, path, email=email) == 200


class Billfold:
    """A ``billfold`` command running until stopped; stdout and stderr kept apart."""

    def __init__(self, tmp: Path, config: Path, *args: str) -> None:
        self.out, self.err = tmp / "stdout.txt", tmp / "stderr.txt"
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sync", "--config", str(config), *args],
                cwd=tmp, env=worker_env(), stdout=out, stderr=err,
            )  # fmt: skip

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def wait_until_serving(self, base: str) -> None:
        def up() -> bool:
            assert self.proc.poll() is None, self.stderr()
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as r:  # noqa: S310
                    return r.status == 200
            except OSError:
                return False

        wait_until(up, 90, "the portal to answer /healthz")

    def wait_for(self, pattern: str, stream: str = "stderr", count: int = 1) -> list:
        def found() -> list:
            text = self.stdout() if stream == "stdout" else self.stderr()
            hits = re.findall(pattern, text)
            return hits if len(hits) >= count else []

        return wait_until(found, 120, f"{pattern!r} in billfold's {stream}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)


def test_an_unsent_link_is_one_warning_line_with_the_link(settings, caplog):
    assert not settings.smtp.host
    url = "http://127.0.0.1:8000/sign-in/" + "x" * 43
    with caplog.at_level(logging.WARNING, logger="billfold"):
        assert send(settings, sign_in_message(settings, "a@example.com", url)) is False
    [line] = [r.getMessage() for r in caplog.records]
    assert line.startswith("event=mail.not_sent ") and "\n" not in line
    assert f" link={url}" in line and "to=a@example.com" in line


@pytest.mark.slow
def test_billfold_serve_logs_every_sign_in_and_invitation_link(
    settings, store, tmp_path
):
    seed(store, settings, tmp_path)
    with store.write(ledger=False) as conn:
        contacts.ensure_admin(conn, "office@example.com")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path / "config.toml", replace(settings), [])
    with config.open("a") as fh:
        fh.write(f'base_url = "{base}"\n')
    link = LINK.format(port=port)
    served = Billfold(tmp_path, config, "serve", "--port", str(port), "--workers", "1")
    try:
        served.wait_until_serving(base)
        visitor = Browser(base)
        visitor.ask_for_link("nobody@example.com")
        visitor.ask_for_link("a_parent@example.com")
        [line] = served.wait_for(r"[^\n]*event=mail\.not_sent[^\n]*")
        assert "level=WARNING" in line and "to=a_parent@example.com" in line
        [customer_link] = re.findall(link, line)
        status, confirm = visitor.get(urllib.parse.urlsplit(customer_link).path)
        assert status == 200 and "Sign in" in confirm

        office = Browser(base)
        office.ask_for_link("office@example.com", admin=True)
        lines = served.wait_for(r"[^\n]*event=mail\.not_sent[^\n]*", count=2)
        [admin_link] = re.findall(link, lines[1])
        path = urllib.parse.urlsplit(admin_link).path
        status, confirm = office.get(path)
        assert office.submit(confirm, path) == 200  # signed in: the dashboard
        status, form = office.get("/admin/contacts/invite?find=Elm+Court")
        assert status == 200
        a1 = re.search(
            r'name="account" value="(\d+)"[^>]*>\s*<span[^>]*><span[^>]*>Elm Court<',
            form,
        )
        assert a1, form
        office.submit(form, "/admin/contacts/invite", email="new@example.com", account=a1.group(1))  # fmt: skip
        lines = served.wait_for(r"[^\n]*event=mail\.not_sent[^\n]*", count=3)
        assert "to=new@example.com" in lines[2]
        [invite_link] = re.findall(link, lines[2])
        status, confirm = Browser(base).get(urllib.parse.urlsplit(invite_link).path)
        assert status == 200 and "Sign in" in confirm
        assert "nobody@example.com" not in served.stderr()
    finally:
        served.stop()


@pytest.mark.slow
def test_billfold_demo_prints_each_new_sign_in_link_on_its_console(
    settings, store, tmp_path
):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = write_config(tmp_path / "config.toml", settings, [])
    link = LINK.format(port=port)
    demo = Billfold(tmp_path, config, "demo", "--port", str(port))
    try:
        demo.wait_until_serving(base)
        [first] = re.findall(link, demo.stdout())
        Browser(base).ask_for_link("demo@example.com")
        [printed] = demo.wait_for(
            rf"Sign-in link for demo@example\.com: ({link})", stream="stdout"
        )
        assert printed != first
        assert printed in demo.wait_for(r"[^\n]*event=mail\.not_sent[^\n]*")[0]
        browser = Browser(base)
        path = urllib.parse.urlsplit(printed).path
        status, confirm = browser.get(path)
        assert status == 200 and browser.submit(confirm, path) == 200
        status, home = browser.get("/")
        assert status == 200 and "Dana Demo" in home
    finally:
        demo.stop()
