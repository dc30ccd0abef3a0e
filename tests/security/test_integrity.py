"""IMP, MONEY, PARSE and CONC rows that the pipeline tests do not already cover."""

from __future__ import annotations

import itertools
import threading
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import BigInteger, Float, Numeric, text
from sqlmodel import SQLModel

import schemas.tables  # noqa: F401
from sync.ledger.balances import balances
from sync.ledger.marks import mark_paid
from tests.helpers import (
    balances_by_account,
    header_without_lines,
    invoice_row,
    run_import,
    write_csv,
)


def canonical(store) -> list[tuple]:
    """The ledger by natural keys only (ids and batch numbers depend on import order)."""
    with store.read() as conn:
        return sorted(
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT a.external_key, a.name, i.number, i.total_minor, i.balance_minor, i.status"
                    " FROM invoice i JOIN account a ON a.id = i.account_id"
                )
            )
        )


@pytest.mark.slow  # long fuzz: many generated cases, most through a store
def test_imp10_independent_files_give_the_same_ledger_in_any_order(
    store, settings, tmp_path, database
):
    header = header_without_lines()
    files = [
        write_csv(
            tmp_path / f"f{k}.csv",
            header,
            [
                invoice_row(f"K{k}-{i}", f"Customer {k}", f"{10 + i}.00")
                for i in range(3)
            ],
        )
        for k in range(3)
    ]
    states = set()
    for order in itertools.permutations(files):
        database.reset(store)
        for path in order:
            assert run_import(store, settings, path).status == "applied"
        states.add(tuple(canonical(store)))
    assert len(states) == 1


def test_imp12_an_import_racing_a_paid_mark_keeps_both(store, settings, tmp_path):
    header = header_without_lines()
    run_import(
        store,
        settings,
        write_csv(
            tmp_path / "a.csv",
            header,
            [invoice_row("RACE", "Racer", "100.00", updated_at="2025-06-01T00:00:00Z")],
        ),
    )
    with store.read() as conn:
        invoice_id = conn.execute(
            text("SELECT id FROM invoice WHERE number = 'RACE'")
        ).scalar_one()
    update = write_csv(
        tmp_path / "b.csv",
        header,
        [
            invoice_row(
                "RACE",
                "Racer",
                "100.00",
                memo="updated",
                updated_at="2025-06-02T00:00:00Z",
            )
        ]
        + [invoice_row(f"PAD{i}", "Racer", "1.00") for i in range(3000)],
    )
    errors: list[BaseException] = []

    def importer() -> None:
        try:
            assert run_import(store, settings, update).status == "applied"
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=importer)
    thread.start()
    with store.write() as conn:
        mark_paid(conn, invoice_id, paid_on=date(2025, 6, 3), actor="admin:x")
    thread.join()
    assert errors == []
    with store.read() as conn:
        memo, status = conn.execute(
            text("SELECT memo, status FROM invoice WHERE number = 'RACE'")
        ).one()
    assert (memo, status) == ("updated", "paid")


# APScheduler's own job table keeps its next run as epoch seconds in a float: a time.
NOT_MONEY = {("scheduler_job", "next_run_time")}


def test_money02_no_column_stores_money_as_a_float_or_decimal():
    for table in SQLModel.metadata.tables.values():
        for column in table.columns:
            if (table.name, column.name) in NOT_MONEY:
                continue
            assert not isinstance(column.type, Float | Numeric), (
                f"{table.name}.{column.name}"
            )
            if column.name.endswith("_minor"):
                assert isinstance(column.type, BigInteger), (
                    f"{table.name}.{column.name}"
                )


@pytest.mark.slow  # long fuzz: many generated cases, most through a store
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    amounts=st.lists(
        st.decimals(
            min_value=Decimal("0.01"), max_value=Decimal("999999999999.99"), places=2
        ),
        min_size=1,
        max_size=5,
    )
)
def test_money01_amounts_survive_the_store_exactly(
    store, settings, tmp_path_factory, database, amounts
):
    database.reset(store)
    rows = [invoice_row(f"M{i}", "Round Trip", f"{a}") for i, a in enumerate(amounts)]
    run_import(
        store,
        settings,
        write_csv(tmp_path_factory.mktemp("m") / "m.csv", header_without_lines(), rows),
    )
    [b] = balances_by_account(store).values()
    assert Decimal(b["total_billed"]) == sum(amounts)
    assert b["total_billed"] == f"{sum(amounts):.2f}"


def test_money04_currency_exponents(store, settings, tmp_path):
    rows = [
        invoice_row("Y1", "Tokyo Client", "1500", currency="JPY"),
        invoice_row("K1", "Kuwait Client", "1.234", currency="KWD"),
        invoice_row("BAD", "Tokyo Client", "1500.5", currency="JPY"),
    ]
    result = run_import(
        store, settings, write_csv(tmp_path / "fx.csv", header_without_lines(), rows)
    )
    assert [r["record"] for r in result.rejected] == ["invoice BAD"]
    assert "more decimal places than JPY allows (0)" in result.rejected[0]["reason"]
    with store.read() as conn:
        got = {(b["account"], b["currency"]): b["total_billed"] for b in balances(conn)}
    assert got == {("Tokyo Client", "JPY"): "1500", ("Kuwait Client", "KWD"): "1.234"}


@pytest.mark.parametrize(
    "number",
    ["00123", "0150", "1E5", "12345678901234567890", "NA", "NULL", "N/A", "-5"],
)
def test_parse02_document_numbers_are_kept_exactly(store, settings, tmp_path, number):
    run_import(
        store,
        settings,
        write_csv(
            tmp_path / "ids.csv",
            header_without_lines(),
            [invoice_row(number, "Id Co", "1.00")],
        ),
    )
    with store.read() as conn:
        assert conn.execute(text("SELECT number FROM invoice")).scalar_one() == number


@pytest.mark.slow
@pytest.mark.sqlite_only
@pytest.mark.alone  # it measures how long reads take
def test_conc01_readers_are_never_blocked_by_an_import(store, settings, tmp_path):
    """WAL: portal reads go on while a large import holds the write lock."""
    header = header_without_lines()
    run_import(
        store,
        settings,
        write_csv(
            tmp_path / "seed.csv", header, [invoice_row("S1", "Reader Co", "1.00")]
        ),
    )
    big = write_csv(
        tmp_path / "big.csv",
        header,
        [invoice_row(f"B{i}", f"Big {i % 50}", "2.00") for i in range(20000)],
    )
    done = threading.Event()
    slowest = [0.0]
    failures: list[BaseException] = []

    def reader() -> None:
        import time

        while not done.is_set():
            started = time.perf_counter()
            try:
                with store.read() as conn:
                    conn.execute(text("SELECT count(*) FROM invoice")).scalar_one()
            except BaseException as exc:
                failures.append(exc)
            slowest[0] = max(slowest[0], time.perf_counter() - started)

    readers = [threading.Thread(target=reader) for _ in range(8)]
    for t in readers:
        t.start()
    result = run_import(store, settings, big)
    done.set()
    for t in readers:
        t.join()
    assert result.status == "applied" and failures == []
    assert (
        slowest[0] < 1.0
    )  # a reader waiting on the writer would take the whole import
