"""reconcile() is pure: table-driven cases, no database."""

from __future__ import annotations

from datetime import datetime

from schemas.records import AccountRecord
from sync.engine.reconcile import Stored, reconcile
from sync.engine.validate import Prepared

T1 = datetime(2025, 6, 1)
T2 = datetime(2025, 6, 30)


def rec(
    key,
    digest="h1",
    updated=T2,
    version=None,
    total=1000,
    lifecycle="issued",
    line=None,
):
    return Prepared(
        kind="invoice",
        key=key,
        account=AccountRecord(key="A", name="A"),
        values={"total_minor": total, "lifecycle": lifecycle},
        content_hash=digest,
        updated_at=updated,
        version=version,
        label=f"invoice {key}",
        line=line,
    )


def stored(digest="h1", updated=T2, version=None, batch=1, total=1000, row_id=7):
    return Stored(row_id, digest, updated, version, batch, total)


def test_new_changed_unchanged():
    plan = reconcile(
        [rec("1"), rec("2", "new"), rec("3")],
        {"2": stored("old"), "3": stored()},
        batch_id=9,
    )
    assert [r.key for r in plan.inserts] == ["1"]
    assert [(i, r.key) for i, r in plan.updates] == [(7, "2")]
    assert [r.key for r in plan.unchanged] == ["3"]


def test_running_twice_plans_nothing():
    first = rec("1")
    plan = reconcile([first], {"1": stored(first.content_hash)}, batch_id=2)
    assert plan.inserts == [] and plan.updates == [] and len(plan.unchanged) == 1


def test_older_record_never_overwrites():
    plan = reconcile(
        [rec("1", "h2", updated=T1)], {"1": stored("h1", updated=T2)}, batch_id=2
    )
    assert plan.updates == [] and len(plan.older) == 1


def test_source_version_beats_timestamps():
    plan = reconcile(
        [rec("1", "h2", updated=T1, version=5)], {"1": stored(updated=T2, version=4)}, 2
    )
    assert len(plan.updates) == 1
    plan = reconcile(
        [rec("1", "h2", updated=T2, version=3)], {"1": stored(updated=T1, version=4)}, 2
    )
    assert len(plan.older) == 1


def test_equal_times_apply_the_correction():
    plan = reconcile([rec("1", "h2", updated=T2)], {"1": stored("h1", updated=T2)}, 2)
    assert len(plan.updates) == 1


def test_repeats_within_a_file():
    same = reconcile([rec("1"), rec("1")], {}, 1)
    assert len(same.inserts) == 1 and len(same.duplicates) == 1
    clash = reconcile([rec("1", "a", line=2), rec("1", "b", line=9)], {}, 1)
    assert len(clash.inserts) == 1 and len(clash.conflicts) == 1
    assert "first on line 2" in clash.conflicts[0][1]
    newer = reconcile([rec("1", "a", version=1), rec("1", "b", version=2)], {}, 1)
    assert [r.content_hash for r in newer.inserts] == ["b"]
    assert [r.content_hash for r in newer.superseded] == ["a"]
    older = reconcile([rec("1", "b", version=2), rec("1", "a", version=1)], {}, 1)
    assert [r.content_hash for r in older.inserts] == ["b"]
    assert [r.content_hash for r in older.superseded] == ["a"]
    assert older.duplicates == [] and older.conflicts == []


def test_repeat_of_a_record_written_earlier_in_the_same_batch():
    plan = reconcile([rec("1", "b")], {"1": stored("a", batch=5)}, batch_id=5)
    assert plan.updates == [] and len(plan.conflicts) == 1
    plan = reconcile([rec("1", "a")], {"1": stored("a", batch=5)}, batch_id=5)
    assert len(plan.duplicates) == 1


def test_void_that_zeroes_amounts_keeps_the_stored_total():
    plan = reconcile(
        [rec("1", "v", total=0, lifecycle="void")], {"1": stored(total=78000)}, 2
    )
    [(_, record)] = plan.updates
    assert record.values["total_minor"] == 78000


def test_versions_decide_between_copies_in_different_chunks():
    newer = reconcile(
        [rec("1", "b", version=3)], {"1": stored("a", version=2, batch=5)}, batch_id=5
    )
    assert [(i, r.content_hash) for i, r in newer.updates] == [(7, "b")]
    older = reconcile(
        [rec("1", "b", version=1)], {"1": stored("a", version=2, batch=5)}, batch_id=5
    )
    assert older.updates == [] and len(older.superseded) == 1
    by_time = reconcile(
        [rec("1", "b", updated=T2)], {"1": stored("a", updated=T1, batch=5)}, batch_id=5
    )
    assert len(by_time.updates) == 1
