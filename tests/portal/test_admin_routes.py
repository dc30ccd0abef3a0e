"""Meta-tests generated from ``app.url_map``: a route added tomorrow is checked too.

* No admin route (other than the sign-in pages) answers anyone but a signed-in admin:
  for every method, without a session and with a customer's session, and with a valid
  CSRF token so that the admin check itself is what refuses. The view must never run.
* No POST route anywhere in the app accepts a request without a CSRF token, whoever
  sends it. The view must never run.
"""

from __future__ import annotations

import functools

import pytest
from werkzeug.routing import AnyConverter, IntegerConverter, Rule

from portal.csrf import EXEMPT
from tests.portal.conftest import csrf_from, sign_in
from tests.portal.test_admin import admin_sign_in

ADMIN_PUBLIC = {"admin.sign_in", "admin.use_link"}
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}


def _is_admin(rule: Rule) -> bool:
    return rule.endpoint.startswith("admin.") or rule.rule.startswith("/admin")


def _path(app, rule: Rule) -> str:
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg]
        if isinstance(converter, IntegerConverter):
            values[arg] = 1
        elif isinstance(converter, AnyConverter):
            values[arg] = sorted(converter.items)[0]
        else:
            values[arg] = "x"
    return app.url_map.bind("localhost").build(rule.endpoint, values)


@pytest.fixture
def spy(app):
    """Wrap every view so a test can tell whether any of them ran."""
    ran: list[str] = []
    for endpoint, view in list(app.view_functions.items()):

        @functools.wraps(view)
        def wrapper(*args, __view=view, __endpoint=endpoint, **kwargs):
            ran.append(__endpoint)
            return __view(*args, **kwargs)

        app.view_functions[endpoint] = wrapper
    return ran


def test_the_admin_area_has_routes_to_check(app):
    guarded = [r for r in app.url_map.iter_rules() if _is_admin(r)]
    endpoints = {r.endpoint for r in guarded}
    # the pages of every admin area are in the map (a typo in registration would
    # otherwise make the walk below check nothing)
    assert {"admin.contacts", "admin.accounts", "admin.audit_log", "admin.imports",
            "admin.preview_start", "admin.contacts_revoke"} <= endpoints  # fmt: skip
    assert all(r.endpoint.startswith("admin.") for r in guarded)


@pytest.mark.parametrize("who", ["nobody", "customer"])
def test_no_admin_route_answers_without_an_admin_session(app, client, world, spy, who):
    if who == "customer":
        sign_in(app, client, "a_parent")
        token = csrf_from(client.get("/").get_data(as_text=True))
    else:
        token = csrf_from(client.get("/admin/sign-in").get_data(as_text=True))
    spy.clear()
    checked = 0
    for rule in app.url_map.iter_rules():
        if not _is_admin(rule) or rule.endpoint in ADMIN_PUBLIC:
            continue
        path = _path(app, rule)
        for method in sorted(rule.methods & METHODS):
            response = client.open(
                path, method=method, data={"csrf_token": token},
                headers={"X-CSRFToken": token},
            )  # fmt: skip
            checked += 1
            if method == "GET":
                assert response.status_code == 302, (method, path)
                assert response.headers["Location"] == "/admin/sign-in", (method, path)
            else:
                assert response.status_code == 403, (method, path, response.status_code)
            assert spy == [], f"{spy} ran for {method} {path} as {who}"
    assert checked >= 30


@pytest.mark.parametrize("who", ["nobody", "customer", "admin"])
def test_no_post_route_accepts_a_request_without_a_csrf_token(
    app, client, world, spy, who
):
    if who == "customer":
        sign_in(app, client, "a_parent")
    elif who == "admin":
        admin_sign_in(app, client)
    spy.clear()
    # The one exception: an unsubscribe link's POST (RFC 8058 one-click, no session)
    # is authenticated by the signed token in its URL (tests/portal/test_notices.py).
    assert {"notices.unsubscribe_link"} == EXEMPT
    posts = [
        r
        for r in app.url_map.iter_rules()
        if "POST" in r.methods and r.endpoint not in EXEMPT
    ]
    # Webhooks carry a signature instead (tests/portal/test_hooks.py): they alone.
    hooks = {r.rule for r in posts if r.endpoint.startswith("hooks.")}
    assert hooks == {"/hooks/<any(xero, quickbooks):system>"}
    posts = [r for r in posts if not r.endpoint.startswith("hooks.")]
    assert len(posts) >= 20
    for rule in posts:
        path = _path(app, rule)
        response = client.post(path, data={"email": "a_parent@example.com"})
        assert response.status_code == 400, (path, response.status_code)
        assert "The form had expired" in response.get_data(as_text=True), path
        assert spy == [], f"{spy} ran for POST {path} without a CSRF token as {who}"
        wrong = client.post(path, data={"csrf_token": "forged"})
        assert wrong.status_code == 400 and spy == [], path
