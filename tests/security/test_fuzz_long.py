"""The long fuzz run (PARSE-05): mutated real exports of every format, imported whole.

For each bundled sample, hypothesis truncates, flips, inserts and deletes bytes, drops or
repeats lines and re-encodes, then imports the result into a real store. An import may
apply (with rejected records) or be rejected whole with a reason; it must never *fail*
(an internal error), and whatever it stored must obey the ledger invariants.
``BILLFOLD_FUZZ_EXAMPLES`` sets the examples per sample (default 60 on SQLite, 15 on
PostgreSQL; CI runs those; `BILLFOLD_FUZZ_EXAMPLES=2000 pytest tests/security/test_fuzz_long.py`
is the long run).
"""

from __future__ import annotations

import contextlib
import os
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from sync.ledger.balances import balances
from tests.conftest import SAMPLES, TEST_DATABASE
from tests.helpers import run_import, statement_disagreements

pytestmark = pytest.mark.slow
# Parsing does not depend on the database; the PostgreSQL leg runs fewer examples.
EXAMPLES = int(
    os.environ.get(
        "BILLFOLD_FUZZ_EXAMPLES", "60" if TEST_DATABASE == "sqlite" else "15"
    )
)
SAMPLE_FILES = sorted(
    p
    for p in SAMPLES.glob("*/*")
    if p.is_file()
    and not p.name.endswith((".json.expected.json", ".expected.json", ".md"))
)


@st.composite
def mutated(draw, data: bytes) -> bytes:
    ops = draw(
        st.lists(
            st.sampled_from(
                [
                    "truncate",
                    "flip",
                    "insert",
                    "delete",
                    "drop_line",
                    "dup_line",
                    "reencode",
                ]
            ),
            min_size=1,
            max_size=4,
        )
    )
    for op in ops:
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        if op == "truncate":
            data = data[:i]
        elif op == "flip":
            data = (
                data[:i] + bytes([data[i] ^ draw(st.integers(1, 255))]) + data[i + 1 :]
            )
        elif op == "insert":
            data = data[:i] + draw(st.binary(min_size=1, max_size=8)) + data[i:]
        elif op == "delete":
            data = data[:i] + data[i + draw(st.integers(1, 16)) :]
        elif op in ("drop_line", "dup_line"):
            lines = data.split(b"\n")
            j = draw(st.integers(0, len(lines) - 1))
            lines = (
                lines[:j] + lines[j + 1 :]
                if op == "drop_line"
                else lines[: j + 1] + lines[j:]
            )
            data = b"\n".join(lines)
        elif op == "reencode":
            with contextlib.suppress(UnicodeDecodeError):
                data = data.decode("utf-8").encode(
                    draw(st.sampled_from(["utf-16", "cp1252", "utf-8-sig"])),
                    errors="replace",
                )
    return data


MONEY = (
    "total_billed", "total_paid", "balance_due", "credit_note_total", "remaining_credit",
    "unapplied_payments", "net_balance",
)  # fmt: skip


def check_invariants(store) -> None:
    with store.read() as conn:
        for b in balances(conn):
            money = {
                k: (Decimal(v) if isinstance(v, str) else v)
                for k, v in b.items()
                if k in MONEY
            }
            assert money["total_billed"] is not None and money["total_billed"] >= 0, b
            # Null only where the source never carries credit notes (and so the count).
            assert (money["credit_note_total"] is None) == (
                b["credit_note_count"] is None
            ), b
            assert money["credit_note_total"] is None or money["credit_note_total"] >= 0
            if money["balance_due"] is not None:
                assert money["balance_due"] >= 0, b
            if None not in (
                money["balance_due"],
                money["remaining_credit"],
                money["unapplied_payments"],
            ):
                assert (
                    money["net_balance"]
                    == money["balance_due"]
                    - money["remaining_credit"]
                    - money["unapplied_payments"]
                ), b
        for row in conn.execute(
            text("SELECT total_minor, balance_minor, paid_minor, status FROM invoice")
        ):
            if row.balance_minor is not None:
                assert 0 <= row.balance_minor <= row.total_minor or row.status in (
                    "void",
                    "deleted",
                    "draft",
                ), row
    # A statement to today closes at the net balance (issue 11, item 15).
    assert statement_disagreements(store) == []


@pytest.mark.parametrize(
    "sample", SAMPLE_FILES, ids=lambda p: f"{p.parent.name}/{p.name}"
)
def test_mutated_exports_import_or_are_refused_never_crash(
    sample, store, settings, tmp_path_factory, database
):
    original = sample.read_bytes()

    @settings_for_fuzz
    @given(data=mutated(original))
    def run(data: bytes) -> None:
        database.reset(store)
        path = tmp_path_factory.mktemp("fuzz") / sample.name
        path.write_bytes(data)
        result = run_import(store, settings, path)
        assert result.status in ("applied", "rejected", "duplicate"), (
            result.status,
            result.reason,
        )
        if result.status == "rejected":
            assert result.reason
        check_invariants(store)

    run()


settings_for_fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
