"""CSRF-05: a form's CSRF token is bound to the portal session it was issued in.

A token fetched before signing in, in another session of the same browser, or in
another browser is refused (400) and does nothing; signing in and out rotates it.
Customer and admin forms alike.
"""

from __future__ import annotations

from tests.portal.conftest import csrf_from, sign_in
from tests.portal.test_admin import admin_sign_in


def _token(client, path: str) -> str:
    return csrf_from(client.get(path).get_data(as_text=True))


def _signed_in(client, path: str = "/") -> bool:
    return client.get(path).status_code == 200


def test_csrf05_a_token_from_before_sign_in_is_refused_after(app, client):
    before = _token(client, "/sign-in")
    sign_in(app, client, "a_parent")
    for path, data in (("/sign-out", {}), ("/account", {"account": "all"})):
        refused = client.post(path, data={"csrf_token": before, **data})
        assert refused.status_code == 400, path
        assert "The form had expired" in refused.get_data(as_text=True)
    assert _signed_in(client)
    now = _token(client, "/")
    assert now != before
    assert client.post("/sign-out", data={"csrf_token": now}).status_code == 302
    assert not _signed_in(client)


def test_csrf05_an_admin_token_from_before_sign_in_is_refused_after(app, client):
    before = _token(client, "/admin/sign-in")
    admin_sign_in(app, client)
    assert client.post("/sign-out", data={"csrf_token": before}).status_code == 400
    assert _signed_in(client, "/admin/")
    assert _token(client, "/admin/") != before


def test_csrf05_a_token_of_one_session_is_refused_in_the_next(app, client, world):
    sign_in(app, client, "a_parent")
    first = _token(client, "/")
    assert client.post("/sign-out", data={"csrf_token": first}).status_code == 302
    # Signed out: the old session's token is no good for the sign-in form either.
    refused = client.post(
        "/sign-in", data={"csrf_token": first, "email": "a_parent@example.com"}
    )
    assert refused.status_code == 400
    visitor = _token(client, "/sign-in")
    sign_in(app, client, "b_user")  # the same browser, the next session
    assert client.post("/sign-out", data={"csrf_token": first}).status_code == 400
    assert client.post("/sign-out", data={"csrf_token": visitor}).status_code == 400
    assert _signed_in(client)

    other = app.test_client()  # another browser, signed in as someone else
    sign_in(app, other, "a_parent")
    theirs = _token(other, "/")
    assert client.post("/sign-out", data={"csrf_token": theirs}).status_code == 400
    assert other.post("/sign-out", data={"csrf_token": _token(client, "/")}).status_code == 400  # fmt: skip
    assert _signed_in(client) and _signed_in(other)


def test_csrf05_an_admin_token_is_refused_after_signing_in_again(app, client, world):
    admin_sign_in(app, client)
    first = _token(client, "/admin/")
    admin_sign_in(app, client)  # step-up: a fresh sign-in starts a new session
    preview = f"/admin/contacts/{world.contacts['a_parent']}/preview"
    assert client.post(preview, data={"csrf_token": first}).status_code == 400
    fresh = _token(client, "/admin/")
    assert fresh != first
    assert client.post(preview, data={"csrf_token": fresh}).status_code == 302
