"""Turn a form definition (and, for the slow path, values) into HTML for WeasyPrint."""

from __future__ import annotations

from functools import partial
from typing import Any

from archiveprint.forms.catalog import FormDef
from archiveprint.forms.tables import read_table
from archiveprint.pdf.weasy import template_env


def render_html(form: FormDef, values: dict[str, str] | None = None, *, site: dict[str, str] | None = None) -> str:
    """The form's HTML; with `values`, the macros write them into their slots (used for previews and the
    naive full-layout path the benchmark compares against; print jobs stamp values instead)."""
    template = template_env().get_template(form.template)
    context: dict[str, Any] = {"form": form, "F": form.by_slot, "values": values or {}, "site": site or {},
                               "table": partial(read_table, form.folder)}  # CSV data in the form's folder
    return template.render(**context)


def render_blank_html(form: FormDef, *, site: dict[str, str] | None = None) -> str:
    return render_html(form, None, site=site)
