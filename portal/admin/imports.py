"""Admin: imports. What each batch did, its rejected records, its original file, uploads
through the browser, and the review gate (publish or discard a staged batch)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from adapters.errors import split_reason
from portal import params
from portal.admin import actor, audit, bp
from portal.admin.queries import batches
from portal.context import portal
from portal.downloads import download
from schemas.tables import utcnow
from sync.engine.intake import IntakeError, display_name, take_in
from sync.engine.pipeline import import_file, publish_staged
from sync.engine.review import discard
from sync.errors import UsageError
from sync.pulls.connections import api_status
from sync.store.blobs import (
    BlobMissing,
    keep_original,
    original_file,
    original_location,
    read_original,
)
from sync.store.permissions import private_dir
from sync.workers.source_match import choose_source

STATUSES = (
    "applied",
    "staged",
    "rejected",
    "failed",
    "duplicate",
    "published",
    "discarded",
)
PAGE = 50
SHOWN_ERRORS = 2000
SHA256 = re.compile(r"[0-9a-f]{64}")


def _sources() -> list[str]:
    names = [s.name for s in portal().settings.sources]
    with portal().store.read() as conn:
        names += batches.batch_sources(conn)
    return sorted(set(names) | {"upload"})


@bp.get("/imports")
def imports() -> str:
    """Every batch, newest first, filtered by source and status."""
    source = request.args.get("source") or None
    status = params.choice("status", STATUSES, None)
    page = params.page(request.args.get("page"))
    with portal().store.read() as conn:
        total, rows, per_source = batches.batch_page(conn, source, status, page, PAGE)
        connections = api_status(conn, portal().settings)
    return render_template(
        "admin/imports.html",
        recent=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE)),
        source=source,
        status=status,
        statuses=STATUSES,
        sources=_sources(),
        per_source=per_source,
        connections=connections,
        limit_mb=portal().settings.portal.upload_max_mb,
    )


@bp.post("/imports/upload")
def upload() -> Response | str:
    """Take an export uploaded from the browser into the source it continues (or the one
    the admin named), through the same pipeline as any file; ask when it is not clear."""
    p = portal()
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length and request.content_length > limit:
        abort(413)  # before parsing: nothing of an oversized body is spooled to disk
    file = request.files.get("export")
    source = request.form.get("source", "")
    if source and source not in _sources():
        abort(400, description="Choose one of the listed sources.")
    if file is None or not file.filename:
        flash("Choose a file to upload.", "error")
        return redirect(url_for("admin.imports"))
    name = display_name(file.filename)
    folder = Path(p.settings.data_dir) / "uploads"
    private_dir(folder)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            file.save(out)
        if os.path.getsize(tmp) == 0:
            flash(f"{name} is empty.", "error")
            return redirect(url_for("admin.imports"))
        intake = take_in(Path(tmp), p.settings.data_dir, name)
    except IntakeError as exc:
        flash(f"{name}: {exc}", "error")
        return redirect(url_for("admin.imports"))
    finally:
        Path(tmp).unlink(missing_ok=True)
    if source:
        return _import_upload(intake.stored_path, name, source)
    choice = choose_source(p.store, p.settings, intake)
    if choice.source is not None:
        flash(f"Source {choice.source} chosen: {choice.reason}.", "ok")
        return _import_upload(intake.stored_path, name, choice.source)
    try:  # the choice may be posted to another node: keep the upload where it looks
        keep_original(p.settings, intake.stored_path, intake.sha256)
    except Exception as exc:
        flash(f"{name}: cannot keep the upload in storage ({exc}); try again.", "error")
        return redirect(url_for("admin.imports"))
    return render_template(
        "admin/upload_source.html",
        name=name,
        sha256=intake.sha256,
        choice=choice,
        sources=_sources(),
    )


@bp.post("/imports/upload/source")
def upload_into() -> Response:
    """Import an upload that waited for the admin to choose its source."""
    p = portal()
    sha = request.form.get("sha256", "")
    source = request.form.get("source", "")
    if source not in _sources() or not SHA256.fullmatch(sha):
        abort(400, description="Choose one of the listed sources.")
    try:
        path = original_file(p.settings, original_location(p.settings, sha))
    except BlobMissing:
        flash("That upload is no longer here: upload the file again.", "error")
        return redirect(url_for("admin.imports"))
    return _import_upload(path, display_name(request.form.get("name", "")), source)


def _import_upload(path: Path, name: str, source: str) -> Response:
    """Import a kept upload; one that would create namesakes waits for confirmation."""
    p = portal()
    result = import_file(
        p.store, p.settings, path, source=source, name=name,
        hold_namesakes=True, as_of=utcnow(),
    )  # fmt: skip
    audit(
        "upload_import",
        record_kind="import_batch",
        record_id=result.batch_id,
        file=name,
        source=source,
        status=result.status,
    )
    if result.batch_id is None:
        flash(f"{name}: {result.reason}", "error")
        return redirect(url_for("admin.imports"))
    return redirect(url_for("admin.batch", batch_id=result.batch_id))


@dataclass(frozen=True)
class Refusal:
    """Why a file was not imported at all, where in it, and what the office can do."""

    reason: str
    line: int | None
    column: str | None
    value: str | None
    advice: str


# What to do about a file rejected whole, by what its reason says (first match wins).
ADVICE = (
    ("unrecognised file", "Export it again from the billing system in one of the "
     "formats billfold reads (the list is in the reason above), then upload the new file."),
    ("more than one adapter", "Upload it again into a source whose settings name its "
     "format (adapter = \"...\"), or ask whoever runs billfold to set one."),
    ("missing required column", "Export it again with those columns, or rename them "
     "in the file, then upload it again."),
    ("day/month order", "Export the dates as 2025-03-31, or ask whoever runs billfold "
     "to set the source's date order, then upload it again."),
    ("dates contradict", "Correct the dates on the line named above in the billing "
     "system, export again and upload the new file."),
    ("not valid", "The file may be cut off or damaged: download the export again and "
     "upload the new file."),
    ("cannot be read", "Save the export as UTF-8 text (or export it again) and upload "
     "the new file."),
)  # fmt: skip
GENERAL_ADVICE = (
    "Correct the file (or export it again from the billing system) and upload it again."
)
FAILED_ADVICE = (
    "billfold itself could not finish, so nothing changed. Upload the file again; if it "
    "fails again, tell whoever runs billfold (the server log has event=import.failed)."
)


def refusal_of(row: Any) -> Refusal | None:
    """Why batch *row* was rejected as a whole (or failed), or None when it was not."""
    if row.status not in ("rejected", "failed"):
        return None
    reason, line, column, value = split_reason(row.reason or "no reason was recorded")
    if row.status == "failed":
        return Refusal(reason, line, column, value, FAILED_ADVICE)
    lowered = reason.casefold()
    advice = next((a for key, a in ADVICE if key in lowered), GENERAL_ADVICE)
    return Refusal(reason, line, column, value, advice)


@bp.get("/imports/<id:batch_id>")
def batch(batch_id: int) -> str:
    """One batch: what it did, what it would do (staged), every rejected record; for a
    file rejected whole, why, where and what to do; for a duplicate, the batch it
    repeats."""
    with portal().store.read() as conn:
        row, errors = batches.batch_with_errors(conn, batch_id, SHOWN_ERRORS)
        earlier = batches.earlier_batch(conn, row.duplicate_of_id if row else None)
    if row is None:
        abort(404)
    warnings = json.loads(row.warnings or "[]")
    diff = json.loads(row.diff) if row.diff else None
    return render_template(
        "admin/batch.html",
        b=row,
        errors=errors,
        warnings=warnings,
        diff=diff,
        shown=SHOWN_ERRORS,
        refusal=refusal_of(row),
        earlier=earlier,
    )


@bp.get("/imports/<id:batch_id>/original")
def original(batch_id: int) -> Response:
    """The file exactly as it arrived."""
    p = portal()
    with p.store.read() as conn:
        row = batches.original_of(conn, batch_id)
    if row is None or not row.stored_path:
        abort(404)
    try:
        data = read_original(p.settings, row.stored_path)
    except BlobMissing:
        abort(404)
    audit("download_original", record_kind="import_batch", record_id=batch_id)
    return download(data, row.file_name, "application/octet-stream")


@bp.post("/imports/<id:batch_id>/publish")
def publish(batch_id: int) -> Response:
    """Apply a staged batch: customers see it from now on."""
    p = portal()
    try:
        result = publish_staged(p.store, p.settings, batch_id, actor())
    except UsageError as exc:
        flash(str(exc), "error")
        return redirect(url_for("admin.batch", batch_id=batch_id))
    flash(f"Published: {result.created} new, {result.updated} changed.", "ok")
    return redirect(url_for("admin.batch", batch_id=result.batch_id or batch_id))


@bp.post("/imports/<id:batch_id>/discard")
def discard_batch(batch_id: int) -> Response:
    """Drop a staged batch; the store never held it."""
    try:
        with portal().store.write(ledger=False) as conn:
            discard(conn, batch_id, actor())
    except UsageError as exc:
        flash(str(exc), "error")
    else:
        flash("Discarded. Nothing from this file reached the portal.", "ok")
    return redirect(url_for("admin.batch", batch_id=batch_id))
