"""Responses the pages share: a refusal shown on the page it came from, and a generated PDF shown inline."""

from __future__ import annotations

import io

from flask import flash, redirect, send_file
from flask.typing import ResponseReturnValue

from archiveprint.errors import ArchiveprintError
from archiveprint.web.session import rollback


def refused(error: ArchiveprintError, target: str) -> ResponseReturnValue:
    """A rule said no: nothing is kept, the clerk sees the Chinese message (row, field, value) on the same page."""
    rollback()
    flash(str(error), "error")
    return redirect(target, code=303)


def pdf_response(pdf: bytes, name: str) -> ResponseReturnValue:
    """A generated PDF shown in the browser (printed from there), never cached: it names residents."""
    return send_file(io.BytesIO(pdf), mimetype="application/pdf", download_name=name, as_attachment=False,
                     max_age=0)
