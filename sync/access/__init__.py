"""Access: who may sign in, and how (contacts, grants, one-time links, sessions, mail).

Used by the portal (HTTP) and the CLI (``billfold invite``, ``login-link``, ``revoke``,
``enable``): the changes of who may see what live here once, each audited in the same
transaction as the change. Secrets are random and only their SHA-256 is stored: a copy
of the database gives no working link or session.

    contacts       the people (and admins) who may sign in; revoke, change of address
    grants         which accounts a contact sees, with which role; who may sign in
    scope          what a contact sees right now (the portal's read model and notices)
    invites        one invitation and bulk invitations from a CSV
    links          one-time sign-in links: issued, inspected, consumed once
    sessions       server-side sessions: start, find, touch, end
    rate_limits    sign-in attempts counted per address and per client
    mail           outgoing mail over SMTP
    link_requests  a requested sign-in link, answered the same whether or not known
    outbox         mail as rows, written in the event's transaction; leased, retried
    sender         the outbox's sender thread (web workers, ``billfold run``)
    notices        email notices: who asked for which, planning what is due
    notice_mail    a planned notice written out as an email when it is sent

Imports: foundation and ledger (accounts, identity) only.
"""
