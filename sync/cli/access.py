"""Access commands: ``invite``, ``revoke``, ``login-link``, ``enable``, ``disable``,
``confirm-account`` and ``admin add|remove``."""

from __future__ import annotations

import click

from sync.cli.context import Context, guard, pass_context
from sync.errors import UsageError

# -- portal access ----------------------------------------------------------------------


def _send_now(ctx: Context, outbox_id: int) -> str:
    """Send what the outbox holds now (this command's mail among it); say how it went."""
    import os
    import socket

    from sync.access.outbox import SENT, deliver_due, state_of

    owner = f"{socket.gethostname()}:{os.getpid()}:cli"
    deliver_due(ctx.store(), ctx.settings, owner)
    with ctx.store().read() as conn:
        state = state_of(conn, outbox_id)
    if state != SENT:
        return (
            "the mail server did not take the mail yet: it waits in the outbox and "
            "`billfold run` or `billfold serve` tries again (`billfold status --mail`)"
        )
    return "the mail was sent"


def _set_enabled(ctx: Context, account: str, source: str | None, enabled: bool) -> None:
    from sync.access import grants
    from sync.ledger.accounts import resolve_account

    with ctx.store().write(ledger=False) as conn:
        ref = resolve_account(conn, account, source)
        grants.set_portal_enabled(conn, ref.id, enabled, actor="cli")
    state = "enabled" if enabled else "disabled"
    click.echo(f"portal {state} for {ref.name} ({ref.key}) and its sites")


@click.command()
@click.argument("account")
@click.option("--source", default=None, help="Only look for ACCOUNT in this source.")
@pass_context
@guard
def enable(ctx: Context, account: str, source: str | None) -> None:
    """Open the portal to ACCOUNT and its sites (pilot rollout)."""
    _set_enabled(ctx, account, source, True)


@click.command()
@click.argument("account")
@click.option("--source", default=None, help="Only look for ACCOUNT in this source.")
@pass_context
@guard
def disable(ctx: Context, account: str, source: str | None) -> None:
    """Close the portal to ACCOUNT (its contacts see nothing of it)."""
    _set_enabled(ctx, account, source, False)


@click.command("confirm-account")
@click.argument("account")
@click.option("--source", default=None, help="Only look for ACCOUNT in this source.")
@pass_context
@guard
def confirm_account(ctx: Context, account: str, source: str | None) -> None:
    """Confirm that a held ACCOUNT's names are one customer (then it may be enabled)."""
    from sync.ledger import identity
    from sync.ledger.accounts import resolve_account

    with ctx.store().write(ledger=False) as conn:
        ref = resolve_account(conn, account, source)
        names = identity.confirm(conn, ref.id, actor="cli")
    click.echo(
        f"confirmed {ref.name} ({ref.key}) as one customer: {identity.shown_names(names)}"
    )


@click.command()
@click.argument("email")
@click.option(
    "--account",
    "accounts",
    multiple=True,
    required=True,
    help="Account key or name (repeat for several).",
)
@click.option(
    "--role",
    type=click.Choice(["billing", "documents"]),
    default="billing",
    show_default=True,
)
@click.option("--name", default=None, help="The contact's name.")
@click.option("--source", default=None, help="Only look for accounts in this source.")
@click.option(
    "--no-email", is_flag=True, help="Do not send the invitation email; print the link."
)
@pass_context
@guard
def invite(
    ctx: Context,
    email: str,
    accounts: tuple[str, ...],
    role: str,
    name: str | None,
    source: str | None,
    no_email: bool,
) -> None:
    """Give EMAIL access to accounts and send a sign-in link."""
    from sync.access import contacts, grants, invites, links, outbox
    from sync.ledger import identity
    from sync.ledger.accounts import resolve_account

    settings = ctx.settings
    with ctx.store().write(ledger=False) as conn:
        refs = [resolve_account(conn, key, source) for key in accounts]
        contact_id, token = invites.invite(
            conn, email, [ref.id for ref in refs], role, actor="cli", name=name,
            link_hours=settings.portal.invite_link_hours,
        )  # fmt: skip
        visible = grants.visible_accounts(conn, contact_id)
        held = {ref.id for ref in refs if identity.held_names(conn, ref.id)}
        mailed = settings.smtp.host and not no_email
        if mailed:  # the mail is a row of the outbox, in the invitation's transaction
            address = contacts.normalise_email(email)
            queued = outbox.enqueue_link(conn, token, address, invited=True)
    url = links.link_url(settings.base_url, token)
    for ref in refs:
        if ref.id in held:
            click.echo(
                f"warning: {ref.name}'s customer id carried several names; the contact "
                f"sees nothing of it until `billfold confirm-account {ref.key!r}`",
                err=True,
            )
        elif ref.id not in visible:
            click.echo(
                f"warning: {ref.name} is not enabled for the portal yet; the contact will "
                f"see it after `billfold enable {ref.key!r}`",
                err=True,
            )
    if mailed:
        click.echo(f"invited {email} ({role}); " + _send_now(ctx, queued))
    elif no_email:
        click.echo(url)
    else:
        click.echo(f"invited {email} ({role}); no SMTP configured, link: {url}")


@click.command()
@click.argument("email")
@pass_context
@guard
def revoke(ctx: Context, email: str) -> None:
    """End EMAIL's access now: sessions end and unused links stop working."""
    from sync.access import contacts

    with ctx.store().write(ledger=False) as conn:
        contact = contacts.find_contact(conn, email)
        if contact is None:
            raise UsageError(f"no contact has the address {email}")
        contacts.revoke_access(conn, contact["id"], actor="cli")
    click.echo(f"revoked {email}")


@click.command("login-link")
@click.argument("email")
@pass_context
@guard
def login_link(ctx: Context, email: str) -> None:
    """Print a one-time sign-in URL for EMAIL (for support; valid for link_minutes)."""
    from sync.access import contacts, grants, links
    from sync.store.audit import record

    settings = ctx.settings
    with ctx.store().write(ledger=False) as conn:
        contact = contacts.find_contact(conn, email)
        if contact is None or not grants.may_sign_in(conn, contact):
            raise UsageError(
                f"{email} cannot sign in: no such contact, access revoked, or none of its "
                "accounts is enabled for the portal"
            )
        token = links.issue_link(
            conn,
            "contact",
            contact["id"],
            contact["email"],
            settings.portal.link_minutes,
        )
        record(
            conn, "cli", "login_link", record_kind="contact", record_id=contact["id"]
        )
    click.echo(links.link_url(settings.base_url, token))


@click.group()
def admin() -> None:
    """Office staff who use the admin portal."""


@admin.command("add")
@click.argument("email")
@click.option("--name", default=None)
@click.option(
    "--no-email", is_flag=True, help="Print the sign-in link instead of emailing it."
)
@pass_context
@guard
def admin_add(ctx: Context, email: str, name: str | None, no_email: bool) -> None:
    """Make EMAIL an admin and send a sign-in link for the admin portal."""
    from sync.access import contacts, links, outbox
    from sync.store.audit import record

    settings = ctx.settings
    with ctx.store().write(ledger=False) as conn:
        admin_id = contacts.ensure_admin(conn, email, name)
        token = links.issue_link(
            conn,
            "admin",
            admin_id,
            contacts.normalise_email(email),
            settings.portal.link_minutes,
        )
        record(conn, "cli", "admin_add", record_kind="admin", record_id=admin_id)
        mailed = settings.smtp.host and not no_email
        if mailed:  # the mail is a row of the outbox, in the same transaction
            address = contacts.normalise_email(email)
            queued = outbox.enqueue_link(conn, token, address, admin=True, invited=True)
    url = links.link_url(settings.base_url, token, admin=True)
    if mailed:
        click.echo(f"{email} is an admin; " + _send_now(ctx, queued))
    elif no_email:
        click.echo(url)
    else:
        click.echo(f"{email} is an admin; no SMTP configured, link: {url}")


@admin.command("remove")
@click.argument("email")
@pass_context
@guard
def admin_remove(ctx: Context, email: str) -> None:
    """Take admin access away from EMAIL (their sessions end at once)."""
    from sqlalchemy import update

    from schemas.tables import ADMIN_USERS, utcnow
    from sync.access import contacts, links, sessions
    from sync.store.audit import record

    with ctx.store().write(ledger=False) as conn:
        found = contacts.find_admin(conn, email)
        if found is None:
            raise UsageError(f"{email} is not an admin")
        table = ADMIN_USERS
        conn.execute(
            update(table).where(table.c.id == found["id"]).values(revoked_at=utcnow())
        )
        sessions.end_sessions_of(conn, "admin", found["id"])
        links.kill_links(conn, "admin", found["id"])
        record(conn, "cli", "admin_remove", record_kind="admin", record_id=found["id"])
    click.echo(f"{email} is no longer an admin")
