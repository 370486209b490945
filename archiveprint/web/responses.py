"""What the pages share in handling a request and answering it: a posted field or form, one change made or refused
(shown on the page it came from), the audit rows of what a page names, a generated PDF shown inline, and a file
saved under a name that says what it holds."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from flask import Response, abort, flash, redirect, request, send_file
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from archiveprint.accounts.services import audit
from archiveprint.errors import ArchiveprintError
from archiveprint.web.auth import current_account
from archiveprint.web.errors import refusal_text
from archiveprint.web.session import db_session, end_read_before_writing, rollback

Form = TypeVar("Form", bound=FlaskForm)


def form_text(name: str, limit: int = 200) -> str:
    """A posted text field, trimmed and cut to `limit` characters ("" when it was not sent)."""
    return (request.form.get(name) or "").strip()[:limit]


def submitted(form: Form) -> Form:
    """A posted form that passed its checks (the CSRF token included); the pages never post anything else, so
    anything else is a 400."""
    if not form.validate_on_submit():
        abort(400)
    return form


def change(make: Callable[[], str], target: str) -> ResponseReturnValue:
    """One change (POST/Redirect/Get): `make` runs the service and says what was done; it is committed and its
    message flashed, or a refusal keeps nothing and is flashed instead. Either way the clerk is back on `target`."""
    try:
        message = make()
        db_session().commit()
    except ArchiveprintError as error:
        return refused(error, target)
    flash(message, "success")
    return redirect(target, code=303)


def refused(error: ArchiveprintError, target: str) -> ResponseReturnValue:
    """A rule said no: nothing is kept, the clerk sees the message (row, field, value) on the same page."""
    note_refusal(error)
    return redirect(target, code=303)


def note_refusal(error: ArchiveprintError) -> None:
    """A rule said no and the page is drawn again: nothing is kept, the refusal is flashed on it."""
    rollback()
    flash_refusal(error)


def flash_refusal(error: ArchiveprintError) -> None:
    """Flash a refusal with the link to the page that fixes it (a domain error's `action`), never CLI advice."""
    flash(refusal_text(error), "error")


def audit_shown(action: str, household_ids: Iterable[int], detail: str) -> None:
    """One audit row per household a page or answer names, committed before it leaves. A read's snapshot ends first
    (as session.commit_audit does), so the rows wait their turn for SQLite's write lock."""
    session = db_session()
    end_read_before_writing(session)
    user = current_account().user
    for household_id in dict.fromkeys(household_ids):
        audit(session, user, action, "household", household_id, detail=detail)
    session.commit()


def printed_pdf(make: Callable[[], bytes], name: str) -> ResponseReturnValue:
    """A document whose printing writes the audit rows of everyone on it (the read snapshot ends first, the rows are
    committed before the PDF leaves), shown inline."""
    session = db_session()
    session.commit()
    pdf = make()
    session.commit()
    return pdf_response(pdf, name)


def pdf_response(pdf: bytes, name: str) -> ResponseReturnValue:
    """A generated PDF shown in the browser (printed from there), never cached: it names residents."""
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", download_name=name, as_attachment=False,
                     max_age=0)


def content_disposition(name: str, fallback: str) -> str:
    """attachment with an ASCII filename for old clients and the Chinese name as RFC 5987 filename*."""
    safe = fallback.encode("ascii", "replace").decode("ascii").replace('"', "_").replace("\\", "_")
    return f"attachment; filename=\"{safe}\"; filename*=UTF-8''{quote(name, safe='')}"


def send_download(path: Path, name: str, fallback: str, mimetype: str) -> Response:
    """A stored file saved by the browser as `name` (ASCII `fallback` where filename* is not understood)."""
    response = send_file(path, as_attachment=True, download_name=fallback, mimetype=mimetype, max_age=0)
    response.headers["Content-Disposition"] = content_disposition(name, fallback)
    return response
