"""REQ rows (SECURITY.md): malformed requests answer 404 or 400 with a message, never a
500 and never a traceback in the log.

Generated from ``app.url_map`` and from the portal's own source: every route gets ids
past what the store can hold, and every query-string and form field a view reads (found
by reading the view's module) gets malformed values, as nobody, as a customer and as an
admin. A route or a field added tomorrow is fuzzed too.
"""

from __future__ import annotations

import inspect
import logging
import re
import sys
from functools import cache

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter, Rule

from portal.params import IdConverter
from tests.portal.conftest import csrf_from, sign_in
from tests.portal.test_admin import admin_sign_in

HUGE_IDS = ("9223372036854775808", "99999999999999999999", "1" + "0" * 40)
BAD_VALUES = (
    "99999-01-01",
    "2024-13-45",
    "9999-12-31",
    "0001-01-01",
    "-1",
    "0",
    "99999999999999999999",
    "1e9",
    "abc",
    "\u0663",  # ARABIC-INDIC DIGIT THREE: str.isdigit() is true, int() reads 3
    "x" * 5000,
)
NEVER = {"static", "auth.sign_out", "admin.sign_out", "admin.preview_start"}
FIELD = re.compile(r"\b(?:args|form)\.(?:get|getlist)\(\s*\"([a-z_]+)\"")


@cache
def fields_of(module: str) -> tuple[str, ...]:
    """Every query-string and form field the module reads."""
    return tuple(sorted(set(FIELD.findall(inspect.getsource(sys.modules[module])))))


def _ids(rule: Rule, value: str) -> dict[str, str]:
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        if isinstance(converter, IntegerConverter):
            values[arg] = value
        elif isinstance(converter, AnyConverter):
            values[arg] = sorted(converter.items)[0]
        else:
            values[arg] = "x"
    return values


def _path(rule: Rule, value: str) -> str:
    # built by hand: the map refuses to build an id the converter would not accept
    path = rule.rule
    for arg, text in _ids(rule, value).items():
        path = re.sub(rf"<[^>]*:{arg}>|<{arg}>", text, path)
    return path


@pytest.fixture
def production(app, caplog):
    """Exceptions become 500 pages and log lines, as they do when served."""
    app.config["TESTING"] = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    caplog.set_level(logging.WARNING)
    return caplog


def _check(response, caplog, what) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code != 500, what
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, (what, errors[0].getMessage())
    assert response.status_code < 500, (what, response.status_code)


def test_every_id_in_the_url_map_is_bounded_to_the_store(app):
    checked = 0
    for rule in app.url_map.iter_rules():
        for arg in rule.arguments:
            converter = rule._converters[arg]
            if isinstance(converter, IntegerConverter):
                assert isinstance(converter, IdConverter), (rule.rule, arg)
                checked += 1
    assert checked >= 15


def test_the_issue_examples(app, client, world, production):
    sign_in(app, client, "a_parent")
    response = client.get("/invoices/99999999999999999999")
    assert response.status_code == 404
    _check(response, production, "huge invoice id")
    for query in ("from=99999-01-01", "to=2024-13-45"):
        for path in ("/invoices", "/invoices.csv", "/statements"):
            response = client.get(f"{path}?{query}")
            assert response.status_code == 400, (path, query)
            body = response.get_data(as_text=True)
            assert "is not a date" in body and "YYYY-MM-DD" in body, (path, body)
    assert client.get("/invoices?page=two").status_code == 400


def _signed_in(app, client, who: str) -> str:  # type: ignore[no-untyped-def]
    """Sign in as *who* and return a CSRF token for its forms."""
    if who == "customer":
        sign_in(app, client, "a_parent")
        return csrf_from(client.get("/").get_data(as_text=True))
    if who == "admin":
        admin_sign_in(app, client)
        return csrf_from(client.get("/admin/").get_data(as_text=True))
    return csrf_from(client.get("/sign-in").get_data(as_text=True))


def _rules(app):  # type: ignore[no-untyped-def]
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in NEVER:
            for method in sorted(rule.methods & {"GET", "POST"}):
                yield rule, method


@pytest.mark.parametrize("who", ["nobody", "customer", "admin"])
def test_no_route_answers_500_to_ids_past_the_store(
    app, client, world, production, who
):
    token = _signed_in(app, client, who)
    sent = 0
    for rule, method in _rules(app):
        for huge in HUGE_IDS if rule.arguments else ():
            path = _path(rule, huge)
            response = client.open(path, method=method, data={"csrf_token": token})
            _check(response, production, (who, method, path))
            bounded = any(isinstance(c, IdConverter) for c in rule._converters.values())
            if who != "nobody" and bounded:
                assert response.status_code == 404, (who, method, path)
            sent += 1
    assert sent > 60


@pytest.mark.slow
@pytest.mark.parametrize("who", ["nobody", "customer", "admin"])
def test_no_field_answers_500_to_malformed_values(app, client, world, production, who):
    token = _signed_in(app, client, who)
    sent = 0
    for rule, method in _rules(app):
        module = app.view_functions[rule.endpoint].__module__
        path = _path(rule, "1")
        for field in fields_of(module):
            for value in BAD_VALUES:
                if method == "GET":
                    response = client.get(path, query_string={field: value})
                else:
                    response = client.post(
                        path, data={"csrf_token": token, field: value}
                    )
                _check(response, production, (who, method, path, field, value[:20]))
                sent += 1
    assert sent > 500
