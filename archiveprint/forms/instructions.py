"""填表说明 pages: a form's filling instructions laid out once with WeasyPrint on A4 and kept like its blank pages."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from importlib.metadata import version
from pathlib import Path

from archiveprint import resources
from archiveprint.errors import InvalidValue
from archiveprint.forms.catalog import FormDef
from archiveprint.forms.layout import PX_TO_PT, FormLayout, PageLayout, add_files, engine, from_json, to_json
from archiveprint.pdf.weasy import render, template_env

INSTRUCTIONS_FORMAT = 1  # bump when the pages or their cache file change shape: older cache files are then ignored
TEMPLATE = "instructions/page"  # templates/instructions/page.html and page.css


def has_instructions(form: FormDef) -> bool:
    return form.instructions is not None


def instruction_page_count(form: FormDef) -> int:
    """The pages of a form's 填表说明 (0 without), as instructions.yaml declares them: counted without a layout."""
    return form.instructions.pages if form.instructions else 0


def _sources() -> list[Path]:
    folder = resources.template_dir() / "instructions"
    return sorted(path for path in folder.iterdir() if path.is_file())


def instructions_key(form: FormDef) -> str:
    """The hash the pages are kept under: the text, the template and its CSS, the fonts, WeasyPrint's version."""
    digest = hashlib.sha256()
    digest.update(repr((INSTRUCTIONS_FORMAT, version("weasyprint"), form.id, form.instructions)).encode())
    add_files(digest, _sources(), root=resources.template_dir())
    return digest.hexdigest()


def render_instructions_html(form: FormDef) -> str:
    return template_env().get_template(f"{TEMPLATE}.html").render(form=form, instructions=form.instructions)


def layout_instructions(form: FormDef) -> FormLayout:
    """A form's 填表说明 as A4 pages with nothing to fill (no slots), laid out once per installation and text."""
    if form.instructions is None:
        raise ValueError(f"form {form.id} has no instructions")
    key = instructions_key(form)
    pages = form.instructions.pages
    return engine().cached(key, f"{form.id}-instructions-{key[:32]}.json", build=lambda: _lay_out(form),
                           encode=lambda found: to_json(found, key),
                           decode=lambda data: from_json(data, form, key, page_count=pages))


def _lay_out(form: FormDef) -> FormLayout:
    assert form.instructions is not None
    css = (resources.template_dir() / f"{TEMPLATE}.css").read_text(encoding="utf-8")
    document = render(render_instructions_html(form), stylesheets=[css])
    if len(document.pages) != form.instructions.pages:
        raise RuntimeError(f"form {form.id}: 填表说明 laid out on {len(document.pages)} pages, "
                           f"instructions.yaml says {form.instructions.pages}")
    pages = [PageLayout(number=n, width=page.width * PX_TO_PT, height=page.height * PX_TO_PT)
             for n, page in enumerate(document.pages, start=1)]
    return FormLayout(form=form, pdf=document.write_pdf(), pages=pages)


# --- what a print asks for ------------------------------------------------------------------------------------

NONE, ONCE, PER_FORM = "none", "once", "per_form"
MODES = (NONE, ONCE, PER_FORM)  # PrintOptions.instructions: none (default), once at the front of the run, per form


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise InvalidValue("填表说明的打印方式应为 none、once 或 per_form", field="填表说明", value=mode)
    return mode


def pages_once(forms: Iterable[FormDef], mode: str) -> int:
    """With `once`: every form's 填表说明 together, at the front of the print run (0 otherwise)."""
    return sum(instruction_page_count(form) for form in forms) if mode == ONCE else 0


def pages_after(form: FormDef, mode: str) -> int:
    """With `per_form`: the form's 填表说明 after each copy of it (0 otherwise)."""
    return instruction_page_count(form) if mode == PER_FORM else 0
