"""Lay out a form's blank pages once with WeasyPrint and record where every fillable slot sits on them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from archiveprint.forms.catalog import FormDef

PX_TO_PT = 0.75  # WeasyPrint lays out in CSS px (1/96 in); PDF speaks points (1/72 in)
SLOT_CLASSES = {"tick": "tick", "cb": "box", "ln": "line", "area": "area"}  # first match wins


@dataclass(frozen=True)
class Slot:
    """A fillable rectangle on a page, in PDF points with the origin at the lower-left corner."""

    name: str
    index: int
    kind: str  # box | line | area | tick
    x: float
    y: float
    width: float
    height: float
    size: float | None = None  # stamped text size in pt, when the template asks for one (data-size)


@dataclass
class PageLayout:
    number: int  # 1-based
    width: float
    height: float
    slots: dict[str, list[Slot]] = field(default_factory=dict)


@dataclass
class FormLayout:
    """A form's blank pages as one PDF plus the slot geometry of each page."""

    form: FormDef
    pdf: bytes
    pages: list[PageLayout]

    @property
    def slot_names(self) -> set[str]:
        return {name for page in self.pages for name in page.slots}


def _walk(box: Any):  # type: ignore[no-untyped-def]
    yield box
    for child in getattr(box, "children", None) or ():
        yield from _walk(child)


def extract_slots(document: Any) -> list[PageLayout]:
    """Find every element with data-slot in WeasyPrint's layout tree and keep its content rectangle."""
    pages = []
    for number, page in enumerate(document.pages, start=1):
        layout = PageLayout(number=number, width=page.width * PX_TO_PT, height=page.height * PX_TO_PT)
        seen: set[tuple[str, int]] = set()
        for box in _walk(page._page_box):
            element = getattr(box, "element", None)
            if element is None or box.element_tag not in ("span", "div", "td"):
                continue
            slot_name = element.get("data-slot")
            if not slot_name:
                continue
            classes = (element.get("class") or "").split()
            kind = next((kind for cls, kind in SLOT_CLASSES.items() if cls in classes), "line")
            index = int(element.get("data-i", "0"))
            if (slot_name, index) in seen:  # a box split over lines: keep its first fragment
                continue
            seen.add((slot_name, index))
            x, y = box.content_box_x(), box.content_box_y()
            slot = Slot(
                name=slot_name, index=index, kind=kind,
                x=x * PX_TO_PT, y=(page.height - y - box.height) * PX_TO_PT,
                width=box.width * PX_TO_PT, height=box.height * PX_TO_PT,
                size=float(element.get("data-size")) if element.get("data-size") else None,
            )
            layout.slots.setdefault(slot_name, []).append(slot)
        for slots in layout.slots.values():
            slots.sort(key=lambda s: s.index)
        pages.append(layout)
    return pages


_cache: dict[tuple[str, str], FormLayout] = {}
_lock = threading.Lock()


def layout_form(form: FormDef, *, site: dict[str, str] | None = None) -> FormLayout:
    """The blank form rendered once per process (and per site settings); every print job reuses it."""
    from archiveprint.forms.render import render_blank_html
    from archiveprint.pdf import render

    key = (form.id, repr((hash(form.fields), sorted((site or {}).items()))))  # a site variant is another layout
    with _lock:
        if key in _cache:
            return _cache[key]
        document = render(render_blank_html(form, site=site))
        pages = extract_slots(document)
        if len(pages) != form.pages:
            raise RuntimeError(f"form {form.id}: laid out on {len(pages)} pages, form.yaml says {form.pages}")
        _cache[key] = FormLayout(form=form, pdf=document.write_pdf(), pages=pages)
        return _cache[key]
