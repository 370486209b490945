"""Register pages: search, resident, household, villages, import (every view of a person leaves an audit row)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from sqlalchemy import select
from wtforms import BooleanField

from archiveprint.errors import NotFound, PermissionDenied
from archiveprint.eventlog import Event, list_events
from archiveprint.register.idcard import IdNumber
from archiveprint.register.models import Resident
from archiveprint.register.queries import classify_query, find_residents, get_household, list_villages, ordered_members
from archiveprint.register.services import get_resident
from archiveprint.web import uploads
from archiveprint.web.auth import current_account, requires
from archiveprint.web.i18n import CLOSE_REASON_LABELS, SEX_LABELS, label
from archiveprint.web.session import commit_audit, db_session, state, today

if TYPE_CHECKING:
    from collections.abc import Iterable

    from archiveprint.locations.queries import Place
    from archiveprint.register.importer import ImportReport

bp = Blueprint("register", __name__)
QUERY_MAX = 100


@bp.get("/")
@requires("view_person")
def search() -> ResponseReturnValue:
    """The one search box: code, name, pinyin initials, ID number or phone."""
    query = request.args.get("q", "").strip()[:QUERY_MAX]
    matches = []
    if query:
        session = db_session()
        kind, _key = classify_query(query)
        matches = find_residents(session, query)
        # The audit names the kind of query, never what was typed (it may be an ID number), and who was listed.
        ids = session.scalars(select(Resident.id).where(Resident.archive_code.in_([m.archive_code for m in matches]))
                              .order_by(Resident.id)) if matches else []
        commit_audit(current_account().user, "search", "resident", kind,
                     detail=f"results={len(matches)} resident_ids={','.join(map(str, ids))}")
    return render_template("web/register/search.html", query=query, matches=matches,
                           places=_places({m.household for m in matches}))


@bp.get("/residents/<code>")
@requires("view_person")
def resident(code: str) -> ResponseReturnValue:
    return _show_resident(code, reveal=False)


@bp.post("/residents/<code>/id-number")
@requires("view_person")
def reveal_id_number(code: str) -> ResponseReturnValue:
    """显示完整身份证号: a POST, so the full number is shown only on purpose and each showing is audited."""
    return _show_resident(code, reveal=True)


def _show_resident(code: str, *, reveal: bool) -> ResponseReturnValue:
    session = db_session()
    person = get_resident(session, code)
    history = [_history_entry(event) for event in list_events(session, "resident", person.archive_code)]
    household = person.household
    village = household.village
    commit_audit(current_account().user, "view_id" if reveal else "view", "resident", person.archive_code)
    id_number = person.id_number or ""
    return render_template(
        "web/register/resident.html", resident=person, household=household, village=village,
        tags=person.tag_names, history=history, reveal=reveal,
        id_number=id_number if reveal else _mask(id_number),
    )


@bp.get("/households/<int:household_id>")
@requires("view_person")
def household(household_id: int) -> ResponseReturnValue:
    found = get_household(db_session(), household_id)
    if found is None:
        raise NotFound("没有这一户", field="户", value=household_id)
    members = ordered_members(found)
    commit_audit(current_account().user, "view", "household", found.id,
                 detail="residents=" + ",".join(m.archive_code for m in members))
    return render_template("web/register/household.html", household=found, village=found.village, members=members,
                           place=_places([found.id]).get(found.id))


@bp.get("/villages")
@requires("view_person")
def villages() -> ResponseReturnValue:
    rows = list_villages(db_session())
    return render_template("web/register/villages.html", rows=rows,
                           totals=(sum(h for _v, h, _r in rows), sum(r for _v, _h, r in rows)))


def _places(household_ids: Iterable[int]) -> dict[int, Place]:
    """Where each household's folder is and whether it is there (locate from the search box)."""
    from archiveprint.locations.queries import find_places
    from archiveprint.web.locations import status_providers

    ids = list(household_ids)
    return find_places(db_session(), ids, providers=status_providers()) if ids else {}


def _mask(id_number: str) -> str:
    return IdNumber(id_number).masked if len(id_number) == 18 else "*" * len(id_number)


def _shown(field: str, value: object) -> str:
    """One value of an event, as the history table shows it (ID numbers stay masked)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple):
        return "、".join(_shown(field, item) for item in value) or "—"
    if field == "id_number":
        return _mask(str(value))
    if field == "sex":
        return label(SEX_LABELS, str(value))
    if field == "reason":
        return label(CLOSE_REASON_LABELS, str(value))
    return str(value)


def _history_entry(event: Event) -> dict[str, object]:
    """An event as plain values for the template: when, who, what, and each field's old → new."""
    lines: list[dict[str, str | None]] = []
    for key, value in (event.data or {}).items():
        if key == "changes" and isinstance(value, dict):
            for field, pair in value.items():
                old, new = pair if isinstance(pair, list | tuple) and len(pair) == 2 else (None, pair)
                lines.append({"field": field, "old": _shown(field, old), "new": _shown(field, new)})
        else:
            lines.append({"field": key, "old": None, "new": _shown(key, value)})
    return {"at": event.occurred_at, "actor": event.actor, "kind": event.kind, "lines": lines}


# --- import -------------------------------------------------------------------------------------------------

REPORT_ROWS_SHOWN = 1000  # the page stays usable; the full list of problems is in the .xlsx error report


class ImportUploadInput(FlaskForm):
    file = FileField(_l("登记表文件（.xlsx 或 .csv）"), validators=[
        FileRequired(_l("请选择要导入的文件")),
        FileAllowed(["xlsx", "csv"], _l("只能导入 .xlsx 或 .csv 文件")),
    ])
    add_villages = BooleanField(_l("自动登记新村"))
    force = BooleanField(_l("即使此前已导入也重新检查"))


def _upload_root() -> Path:
    return state().settings.instance_dir / "uploads"


@bp.get("/import")
@requires("import")
def import_upload() -> ResponseReturnValue:
    return render_template("web/register/import_upload.html", form=ImportUploadInput())


@bp.post("/import")
@requires("import")
def import_check() -> ResponseReturnValue:
    """Store the upload and dry-run it: the clerk sees every problem and change before anything is written."""
    form = ImportUploadInput()
    if not form.validate_on_submit():
        return render_template("web/register/import_upload.html", form=form), 400
    account = current_account()
    stored = uploads.save_upload(_upload_root(), form.file.data.stream, form.file.data.filename or "upload",
                                 user_id=account.user.id, add_villages=bool(form.add_villages.data),
                                 force=bool(form.force.data))
    try:
        report = _run_import(stored, stored.source(_upload_root()), dry_run=True)
    except BaseException:
        uploads.discard(_upload_root(), stored)  # an unreadable file is not kept (it may hold people's data)
        raise
    finally:
        db_session().rollback()  # a dry run writes nothing, whatever the importer did
    if report.already is not None:
        commit_audit(account.user, "import", "import", stored.token,
                     detail=f"already imported as run {report.already.run}: not read")
        uploads.discard_source(_upload_root(), stored)  # nothing to confirm: the file is not kept
    else:
        commit_audit(account.user, "import", "import", stored.token,
                     detail=f"dry_run rows={report.rows} problems={len(report.problems)}")
    _keep_report(stored, report)
    return redirect(url_for("register.import_report", token=stored.token), code=303)


@bp.get("/import/<token>")
@requires("import")
def import_report(token: str) -> ResponseReturnValue:
    stored = _own_upload(token)
    return render_template("web/register/import_report.html", upload=stored, report=stored.report,
                           confirm=ImportConfirmInput(), shown=REPORT_ROWS_SHOWN)


class ImportConfirmInput(FlaskForm):
    """The 确认导入 button: nothing but the CSRF token (the file is named by the URL)."""


@bp.post("/import/<token>/apply")
@requires("import")
def import_apply(token: str) -> ResponseReturnValue:
    """确认导入: run the import for real; all rows or none."""
    if not ImportConfirmInput().validate_on_submit():
        abort(400)
    stored = _own_upload(token)
    root = _upload_root()
    claimed = uploads.claim(root, stored)
    try:
        report = _run_import(stored, claimed, dry_run=False)
        if report.applied:
            commit_audit(current_account().user, "import", "import", stored.token,
                         detail=f"applied rows={report.rows} added={report.added} changed={report.changed}")
        else:
            db_session().rollback()
    except BaseException:
        db_session().rollback()
        uploads.release(root, stored)
        raise
    if report.ok:  # written, or nothing to write: either way this file is done with
        stored.state = "applied"
        uploads.discard_source(root, stored)
    else:  # the register changed since the check (another clerk): show the new problems, keep the file
        uploads.release(root, stored)
    _keep_report(stored, report)
    return redirect(url_for("register.import_report", token=stored.token), code=303)


@bp.get("/import/<token>/errors.xlsx")
@requires("import")
def import_errors(token: str) -> ResponseReturnValue:
    """The problems as a spreadsheet the clerk can fix the source file from."""
    stored = _own_upload(token)
    path = stored.error_report(_upload_root())
    if not path.is_file():
        raise NotFound("这次导入没有错误报告", field="上传", value=stored.filename)
    commit_audit(current_account().user, "export", "import", stored.token, detail="error report")
    return send_file(path, as_attachment=True, download_name=f"{Path(stored.filename).stem}-错误报告.xlsx",
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", max_age=0)


def _own_upload(token: str) -> uploads.PendingUpload:
    stored = uploads.load(_upload_root(), token)
    if stored.user_id != current_account().user.id:
        raise PermissionDenied("只有上传这个文件的用户可以查看和确认这次导入", field="上传", value=stored.filename)
    return stored


def _run_import(stored: uploads.PendingUpload, path: Path, *, dry_run: bool) -> ImportReport:
    from archiveprint.register.importer import import_file

    return import_file(db_session(), path, actor=current_account().username, dry_run=dry_run,
                       add_villages=stored.add_villages, today=today(), filename=stored.filename, force=stored.force)


def _keep_report(stored: uploads.PendingUpload, report: ImportReport) -> None:
    """Save the report as plain values for the report page, and the .xlsx error report when there are problems."""
    from archiveprint.register.importer import write_error_report

    root = _upload_root()
    if report.problems:
        write_error_report(report, stored.error_report(root))
    else:
        stored.error_report(root).unlink(missing_ok=True)
    stored.report = {
        "filename": report.filename or stored.filename,
        "rows": report.rows, "accepted": report.accepted, "refused": report.refused, "added": report.added,
        "changed": report.changed, "unchanged": report.unchanged,
        "new_villages": [f"{code} {name}" for code, name in report.new_villages],
        "applied": report.applied, "dry_run": report.dry_run, "ok": report.ok,
        "already": None if report.already is None else {"run": report.already.run, "at": report.already.shown_at},
        "to_write": report.ok and bool(report.added or report.changed or report.new_villages),
        "problem_count": len(report.problems), "change_count": len(report.changes),
        "problems": [{"row": p.row, "column": p.column, "value": p.value, "reason": p.reason}
                     for p in report.problems[:REPORT_ROWS_SHOWN]],
        "changes": [{"archive_code": c.archive_code, "name": c.name,
                     "fields": [[str(key), _plain(old), _plain(new)] for key, (old, new) in c.fields.items()]}
                    for c in report.changes[:REPORT_ROWS_SHOWN]],
    }
    uploads.store(root, stored)


def _plain(value: object) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list | tuple | set):
        return "、".join(map(str, value))
    return str(value)
