"""Render one page of every form (stamped with its made-up sample values) as PNGs for the README.

    .venv/bin/python scripts/readme_images.py                  # writes docs/images/<form_id>.png, every form
    .venv/bin/python scripts/readme_images.py mental_info card   # only these forms
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pypdfium2
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archiveprint.forms.catalog import load_catalog  # noqa: E402
from archiveprint.forms.printer import FormPrinter  # noqa: E402

OUT = ROOT / "docs" / "images"
DPI = 60


def main(form_ids: list[str]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    catalog = load_catalog()
    for form in [catalog.form(form_id) for form_id in form_ids] or list(catalog.forms.values()):
        values = yaml.safe_load((form.folder / "sample.yaml").read_text(encoding="utf-8"))["values"]
        buffer = io.BytesIO()
        printer = FormPrinter(buffer)
        if form.per_page > 1:
            printer.add_form(form, values)
        else:
            printer.add_form(form, values, code17=values.get("code17", "13012310020100001"))
        printer.close(title=form.title)
        pdf = pypdfium2.PdfDocument(buffer.getvalue())
        dpi = DPI * 3 if form.size == "card" else DPI
        pdf[0].render(scale=dpi / 72, grayscale=True).to_pil().save(OUT / f"{form.id}.png", optimize=True)
        pdf.close()
        print(form.id)


if __name__ == "__main__":
    main(sys.argv[1:])
