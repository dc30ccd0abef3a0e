"""Admin: contacts and access, with real SMTP (the aiosmtpd sink). Invitations, resend,
revoke, single grants, change of address, step-up, and bulk invitations from a CSV."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from schemas.tables import (
    AUDIT_EVENTS,
    PORTAL_SESSIONS,
    utcnow,
)
from sync.access import contacts, grants
from tests.portal.conftest import csrf_from
from tests.portal.test_admin import admin_sign_in, page, post

BASE = "https://portal.example"


def admin_client(app):
    """A browser signed in as an admin."""
    client = app.test_client()
    admin_sign_in(app, client)
    return client


def mail_link(app, sink, to: str) -> str:
    """The sign-in link in the newest mail to *to* (waits for it)."""
    app.extensions["billfold"].mailer.flush()
    body = sink.wait_for(to).get_payload(decode=True).decode()
    match = re.search(re.escape(BASE) + r"(/sign-in/[A-Za-z0-9_\-]+)", body)
    assert match, body
    return match.group(1)


def mails_to(app, sink, to: str) -> list:
    app.extensions["billfold"].mailer.flush()
    return [m for m in sink.messages if to in m["To"]]


def use_link(app, path: str):
    """Open a link in a fresh browser, press Sign in; return the client and response."""
    browser = app.test_client()
    confirm = browser.get(path)
    if confirm.status_code != 200:
        return browser, confirm
    response = browser.post(
        path, data={"csrf_token": csrf_from(confirm.get_data(as_text=True))}
    )
    return browser, response


def events(app, action: str) -> list:
    E = AUDIT_EVENTS
    with app.extensions["billfold"].store.read() as conn:
        return conn.execute(select(E).where(E.c.action == action)).all()


def contact_id(app, email: str) -> int:
    with app.extensions["billfold"].store.read() as conn:
        return contacts.find_contact(conn, email)["id"]


def age_admin_sessions(app, minutes: int) -> None:
    S = PORTAL_SESSIONS
    with app.extensions["billfold"].store.write(ledger=False) as conn:
        conn.execute(
            update(S)
            .where(S.c.principal_kind == "admin")
            .values(created_at=utcnow() - timedelta(minutes=minutes))
        )


def test_invite_mails_a_working_link_and_the_list_shows_status(app, world, smtp_sink):
    office = admin_client(app)
    sink, _ = smtp_sink
    response = post(
        office,
        "/admin/contacts/invite",
        {
            "email": " New.Person@Example.com ",
            "name": "New Person",
            "account": [str(world.accounts["A"]), str(world.accounts["B"])],
            "role": "billing",
        },
    )
    assert response.status_code == 302
    html = page(office, response.headers["Location"])
    assert "Invitation sent to new.person@example.com" in html
    assert "Alder Property Group, Birch Dental (billing)" in html
    assert "Invited" in html

    message = sink.wait_for("new.person@example.com")
    assert "your invoices and statements online" in message["Subject"]
    assert "expires in 72 hours" in message.get_payload(decode=True).decode()
    browser, signed_in = use_link(app, mail_link(app, sink, "new.person@example.com"))
    assert signed_in.status_code == 302 and signed_in.headers["Location"] == "/"
    invoices = browser.get("/invoices").get_data(as_text=True)
    assert "A-100" in invoices and "B-400" in invoices

    listing = page(office, "/admin/contacts?q=new.person")
    assert "new.person@example.com" in listing and "Signed in" in listing
    assert "Alder Property Group" in listing and "Birch Dental" in listing
    invites = events(app, "invite")
    assert {e.account_id for e in invites} == {world.accounts["A"], world.accounts["B"]}
    assert {e.actor for e in invites} == {"admin:office@harbor.example"}


def test_invite_form_errors_keep_what_was_typed(app, world):
    office = admin_client(app)
    response = post(
        office,
        "/admin/contacts/invite",
        {"email": "not an address", "name": "<b>Kept</b>", "role": "billing"},
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Enter an email address" in html and "Choose at least one account" in html
    assert 'value="&lt;b&gt;Kept&lt;/b&gt;"' in html
    assert events(app, "invite") == []


def test_inviting_to_an_account_that_is_not_on_says_so(app, world):
    office = admin_client(app)
    response = post(
        office,
        "/admin/contacts/invite",
        {"email": "dee@example.com", "account": str(world.accounts["D"])},
    )
    html = page(office, response.headers["Location"])
    assert "The portal is not on yet for Dogwood Disabled" in html
    assert "cannot sign in yet" in html


def test_resend_sends_a_new_link_and_the_old_one_still_works(app, world, smtp_sink):
    office = admin_client(app)
    sink, _ = smtp_sink
    b_user = world.contacts["b_user"]
    post(office, f"/admin/contacts/{b_user}/resend")
    first = mail_link(app, sink, "b_user@example.com")
    html = page(
        office, post(office, f"/admin/contacts/{b_user}/resend").headers["Location"]
    )
    assert "A new invitation link was sent to b_user@example.com" in html
    app.extensions["billfold"].mailer.flush()
    links = [
        re.search(r"/sign-in/\S+", m.get_payload(decode=True).decode()).group(0)
        for m in mails_to(app, sink, "b_user@example.com")
    ]
    assert len(links) == 2 and links[0] == first and links[1] != first
    assert use_link(app, first)[1].status_code == 302
    assert use_link(app, links[1])[1].status_code == 302
    assert len(events(app, "resend_invite")) == 2

    revoked = world.contacts["revoked_user"]
    refused = page(
        office, post(office, f"/admin/contacts/{revoked}/resend").headers["Location"]
    )
    assert "Nothing was sent" in refused and "access was revoked" in refused


def test_revoke_ends_sessions_and_kills_mailed_links(app, world, smtp_sink):
    office = admin_client(app)
    sink, _ = smtp_sink
    b_user = world.contacts["b_user"]
    post(office, f"/admin/contacts/{b_user}/resend")
    pending = mail_link(app, sink, "b_user@example.com")
    laptop, _ = use_link(app, pending)
    post(office, f"/admin/contacts/{b_user}/resend")
    app.extensions["billfold"].mailer.flush()
    unused = re.search(
        r"/sign-in/\S+",
        mails_to(app, sink, "b_user@example.com")[-1].get_payload(decode=True).decode(),
    ).group(0)
    assert laptop.get("/invoices").status_code == 200

    response = post(office, f"/admin/contacts/{b_user}/revoke")
    html = page(office, response.headers["Location"])
    assert "can no longer see anything" in html and "Revoked" in html
    assert laptop.get("/invoices").headers["Location"] == "/sign-in"
    assert app.test_client().get(unused).status_code == 410
    (event,) = events(app, "revoke")
    assert (event.record_kind, event.record_id) == ("contact", b_user)
    assert event.actor == "admin:office@harbor.example"


def test_a_stale_admin_session_must_sign_in_again_before_revoking(
    app, world, smtp_sink
):
    office = admin_client(app)
    sink, _ = smtp_sink
    minutes = app.extensions["billfold"].settings.portal.admin_step_up_minutes
    age_admin_sessions(app, minutes + 1)
    b_user = world.contacts["b_user"]
    assert "changing who can see what will first ask you" in page(
        office, f"/admin/contacts/{b_user}"
    )
    response = post(office, f"/admin/contacts/{b_user}/revoke")
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/sign-in?step_up=1"
    notice = page(office, response.headers["Location"])
    assert "please sign in again" in notice
    with app.extensions["billfold"].store.read() as conn:
        assert contacts.contact_by_id(conn, b_user)["revoked_at"] is None
    assert events(app, "revoke") == []

    # signing in again by the emailed link makes the same action go through
    office.post(
        "/admin/sign-in",
        data={"email": "office@harbor.example", "csrf_token": csrf_from(notice)},
    )
    app.extensions["billfold"].mailer.flush()
    body = sink.wait_for("office@harbor.example").get_payload(decode=True).decode()
    token_path = re.search(r"/admin/sign-in/\S+", body).group(0)
    confirm = office.get(token_path)
    office.post(
        token_path, data={"csrf_token": csrf_from(confirm.get_data(as_text=True))}
    )
    post(office, f"/admin/contacts/{b_user}/revoke")
    with app.extensions["billfold"].store.read() as conn:
        assert contacts.contact_by_id(conn, b_user)["revoked_at"] is not None


@pytest.mark.parametrize(
    "action",
    ["invite", "bulk", "grant", "ungrant", "email", "revoke", "portal"],
)
def test_every_change_of_access_needs_a_recent_sign_in(app, world, action):
    office = admin_client(app)
    b_user, a_account = world.contacts["b_user"], world.accounts["A"]
    requests = {
        "invite": ("/admin/contacts/invite", {"email": "x@example.com", "account": str(a_account)}),
        "bulk": ("/admin/contacts/bulk", {"file": (io.BytesIO(b"x@example.com,X,A\n"), "a.csv")}),
        "grant": (f"/admin/contacts/{b_user}/grants", {"account": str(a_account)}),
        "ungrant": (f"/admin/contacts/{b_user}/grants/{world.accounts['B']}/remove", {}),
        "email": (f"/admin/contacts/{b_user}/email", {"email": "new-b@example.com"}),
        "revoke": (f"/admin/contacts/{b_user}/revoke", {}),
        "portal": (f"/admin/accounts/{world.accounts['D']}/portal", {"enabled": "1"}),
    }  # fmt: skip
    path, data = requests[action]
    store = app.extensions["billfold"].store
    dump = "SELECT * FROM {} ORDER BY id"
    tables = ("contact", "access_grant", "account", "login_token", "audit_event")
    age_admin_sessions(app, 60 * 24)
    with store.read() as conn:
        before = {t: conn.execute(text(dump.format(t))).all() for t in tables}
    response = post(office, path, data, content_type="multipart/form-data")
    assert response.headers["Location"] == "/admin/sign-in?step_up=1"
    with store.read() as conn:
        assert {t: conn.execute(text(dump.format(t))).all() for t in tables} == before


def test_preview_and_resend_need_no_step_up(app, world):
    office = admin_client(app)
    age_admin_sessions(app, 60 * 24)
    b_user = world.contacts["b_user"]
    assert (
        post(office, f"/admin/contacts/{b_user}/resend")
        .headers["Location"]
        .endswith(f"/admin/contacts/{b_user}")
    )
    assert post(office, f"/admin/contacts/{b_user}/preview").headers["Location"] == "/"


def test_change_email_kills_old_links_and_sessions_and_tells_the_old_address(
    app, world, smtp_sink
):
    office = admin_client(app)
    sink, _ = smtp_sink
    a_parent = world.contacts["a_parent"]
    post(office, f"/admin/contacts/{a_parent}/resend")
    phone, _ = use_link(app, mail_link(app, sink, "a_parent@example.com"))
    post(office, f"/admin/contacts/{a_parent}/resend")
    app.extensions["billfold"].mailer.flush()
    old_link = re.search(
        r"/sign-in/\S+",
        mails_to(app, sink, "a_parent@example.com")[-1]
        .get_payload(decode=True)
        .decode(),
    ).group(0)
    assert phone.get("/").status_code == 200

    response = post(
        office, f"/admin/contacts/{a_parent}/email", {"email": "Alder.AP@Example.org"}
    )
    html = page(office, response.headers["Location"])
    assert "The address is now alder.ap@example.org" in html
    assert phone.get("/").headers["Location"] == "/sign-in"
    assert app.test_client().get(old_link).status_code == 410

    told = mails_to(app, sink, "a_parent@example.com")[-1]
    assert "email address was changed" in told["Subject"]
    told_body = told.get_payload(decode=True).decode()
    assert "a***@example.org" in told_body and "alder.ap@example.org" not in told_body
    browser, signed_in = use_link(app, mail_link(app, sink, "alder.ap@example.org"))
    assert signed_in.status_code == 302
    assert "A-100" in browser.get("/invoices").get_data(as_text=True)
    (event,) = events(app, "change_email")
    assert '"old": "a_parent@example.com"' in event.detail

    taken = post(
        office, f"/admin/contacts/{a_parent}/email", {"email": "B_USER@example.com"}
    )
    assert "another contact already uses b_user@example.com" in page(
        office, taken.headers["Location"]
    )
    bad = post(office, f"/admin/contacts/{a_parent}/email", {"email": "nope"})
    assert "is not an email address" in page(office, bad.headers["Location"])
    assert len(events(app, "change_email")) == 1


def test_single_grants_take_effect_at_once(app, world):
    office = admin_client(app)
    from tests.portal.conftest import sign_in

    customer = app.test_client()
    sign_in(app, customer, "b_user")
    b_user, elm = world.contacts["b_user"], world.accounts["A:Elm Court"]
    invoice = f"/invoices/{world.invoices['A1-200']}"
    assert customer.get(invoice).status_code == 404
    added = post(
        office,
        f"/admin/contacts/{b_user}/grants",
        {"account": str(elm), "role": "billing"},
    )
    assert "Access to Alder Property Group › Elm Court (billing) added" in page(
        office, added.headers["Location"]
    )
    assert customer.get(invoice).status_code == 200
    post(office, f"/admin/contacts/{b_user}/grants/{elm}/remove")
    assert customer.get(invoice).status_code == 404
    assert [
        e.action for e in events(app, "grant_added") + events(app, "grant_removed")
    ] == [
        "grant_added",
        "grant_removed",
    ]
    missing = post(office, f"/admin/contacts/{b_user}/grants/{elm}/remove")
    assert missing.status_code == 404
    revoked = world.contacts["revoked_user"]
    refused = post(office, f"/admin/contacts/{revoked}/grants", {"account": str(elm)})
    assert "access was revoked; invite them again" in page(
        office, refused.headers["Location"]
    )


def test_contact_pages_escape_hostile_names_and_unknown_ids_are_404(app, world):
    office = admin_client(app)
    with app.extensions["billfold"].store.write(ledger=False) as conn:
        cid = contacts.ensure_contact(
            conn, "hostile@example.com", "<script>alert(1)</script>"
        )
        grants.grant_access(conn, cid, world.accounts["B"], "billing")
    for path in ("/admin/contacts", f"/admin/contacts/{cid}"):
        html = page(office, path)
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert office.get("/admin/contacts/99999").status_code == 404


def test_contact_list_filters_by_status_and_account(app, world):
    office = admin_client(app)
    from tests.portal.conftest import sign_in

    sign_in(app, app.test_client(), "b_user")
    signed_in = page(office, "/admin/contacts?status=signed_in")
    assert "b_user@example.com" in signed_in and "a_parent@example.com" not in signed_in
    revoked = page(office, "/admin/contacts?status=revoked")
    assert "revoked_user@example.com" in revoked and "b_user@" not in revoked
    birch = page(office, "/admin/contacts?q=Birch")
    assert "b_user@example.com" in birch and "a_parent@" not in birch
    assert "portal not on for their accounts" in page(
        office, "/admin/contacts?q=d_user"
    )


BULK = (
    "Email,Name,Account\r\n"
    "new1@example.com,New One,A\r\n"
    "new1@example.com,New One,Birch Dental\r\n"
    '"new2@example.com","Two, With Comma",A:Elm Court\r\n'
    "not-an-email,Bad,A\r\n"
    "new3@example.com,Three,NOPE\r\n"
    "NEW1@example.com,Dup,a\r\n"
    "a_parent@example.com,,A\r\n"
    "a_parent@example.com,,Elm Court\r\n"
    "revoked_user@example.com,,A\r\n"
    "lonely@example.com\r\n"
    "role@example.com,Role,B,admin\r\n"
    '"<script>@x.com",X,B\r\n'
    '"new4@example.com","=HYPERLINK(""http://evil.example"")\r\n<img src=x onerror=alert(1)>","<b>B</b>"\r\n'
    '"new5@example.com","<img src=x onerror=alert(1)>",B,documents\r\n'
    "\r\n"
)


def test_bulk_invite_reports_every_row_and_never_crashes(app, world, smtp_sink):
    office = admin_client(app)
    sink, _ = smtp_sink
    response = post(
        office,
        "/admin/contacts/bulk",
        {"file": (io.BytesIO(BULK.encode()), "pilot <wave 1>.csv"), "role": "billing"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    rows = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(
            r'data-label="Line" class="num">(\d+)</td>(.*?)</tr>', html, re.S
        )
    }
    outcome = {
        line: re.search(r"badge-outcome-(\w+)", row).group(1)
        for line, row in rows.items()
    }
    assert outcome == {
        2: "invited", 3: "invited", 4: "invited", 5: "rejected", 6: "rejected",
        7: "rejected", 8: "already", 9: "already", 10: "rejected", 11: "rejected",
        12: "rejected", 13: "rejected", 14: "rejected", 16: "invited",
    }  # fmt: skip
    assert "not an email address" in rows[5]
    assert "no account has the key or name &#39;NOPE&#39;" in rows[6]
    assert "duplicate of line 2" in rows[7]
    assert "through Alder Property Group" in rows[9]
    assert "access was revoked" in rows[10]
    assert "expected 3 columns" in rows[11]
    assert "role must be billing or documents" in rows[12]
    assert "no account has the key or name &#39;&lt;b&gt;B&lt;/b&gt;&#39;" in rows[14]
    assert "<script>" not in html and "<img" not in html and "<b>B" not in html
    assert "pilot &lt;wave 1&gt;.csv" in html
    assert re.search(r"Invited</p><p class=\"stat-value\">4<", html)

    app.extensions["billfold"].mailer.flush()
    assert len(mails_to(app, sink, "new1@example.com")) == 1  # two accounts, one email
    assert mails_to(app, sink, "a_parent@example.com") == []
    browser, _ = use_link(app, mail_link(app, sink, "new1@example.com"))
    invoices = browser.get("/invoices").get_data(as_text=True)
    assert "A-100" in invoices and "B-400" in invoices
    with app.extensions["billfold"].store.read() as conn:
        new5 = contacts.find_contact(conn, "new5@example.com")
        assert new5["name"] == "<img src=x onerror=alert(1)>"
        assert grants.visible_accounts(conn, new5["id"]) == {
            world.accounts["B"]: "documents"
        }
        assert contacts.find_contact(conn, "new3@example.com") is None
        assert (
            contacts.find_contact(conn, "revoked_user@example.com")["revoked_at"]
            is not None
        )
    (summary,) = events(app, "bulk_invite")
    assert '"invited": 4' in summary.detail and '"rejected": 8' in summary.detail


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "the file is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "the file is not text"),
        (b"email,name,account\n", "the file has a header but no rows"),
    ],
)
def test_a_bulk_file_that_cannot_be_read_is_refused_whole(app, world, data, reason):
    office = admin_client(app)
    response = post(
        office,
        "/admin/contacts/bulk",
        {"file": (io.BytesIO(data), "x.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert events(app, "invite") == [] and events(app, "bulk_invite") == []


def test_a_revoked_contact_is_restored_only_by_inviting_them_again(
    app, world, smtp_sink
):
    office = admin_client(app)
    sink, _ = smtp_sink
    revoked = world.contacts["revoked_user"]
    html = page(office, f"/admin/contacts/{revoked}")
    link = re.search(r'href="(/admin/contacts/invite\?email=[^"]+)">Invite again', html)
    form = page(office, link.group(1).replace("&amp;", "&"))
    assert 'value="revoked_user@example.com"' in form
    response = post(
        office,
        "/admin/contacts/invite",
        {"email": "revoked_user@example.com", "account": str(world.accounts["A"])},
    )
    assert "Access restored and invitation sent" in page(
        office, response.headers["Location"]
    )
    browser, signed_in = use_link(app, mail_link(app, sink, "revoked_user@example.com"))
    assert signed_in.status_code == 302
    assert "A-100" in browser.get("/invoices").get_data(as_text=True)
