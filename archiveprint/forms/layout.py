"""Lay out a form's blank pages once with WeasyPrint and record where every fillable slot sits on them."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypeVar

from archiveprint import diskcache
from archiveprint.forms.catalog import INSTRUCTIONS_FILE, FormDef
from archiveprint.forms.render import render_blank_html
from archiveprint.pdf.fonts import FONT_FACES, font_path, use_metrics_cache
from archiveprint.pdf.weasy import render, template_env

T = TypeVar("T")
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


LAYOUT_FORMAT = 1  # bump when Slot, PageLayout or extract_slots change: older cache files are then ignored
log = logging.getLogger(__name__)


def layout_cache_dir(instance_dir: Path) -> Path:
    """Where an installation keeps its laid-out blank forms: <instance>/cache/layouts."""
    return diskcache.cache_dir(instance_dir) / "layouts"


def _file_digest(path: Path) -> str:
    stat = path.stat()
    return _digest_of(path, stat.st_size, stat.st_mtime_ns)


# A print worker computes a layout's key for every form of every part it prints: each file is hashed and each
# template parsed once per process and version of the file (its size and mtime), not once per print.
@lru_cache(maxsize=1024)
def _digest_of(path: Path, _size: int, _mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@lru_cache(maxsize=256)
def _names_referenced(template: Path, _size: int, _mtime_ns: int) -> tuple[str | None, ...]:
    from jinja2 import meta  # lazy: Jinja only to lay out a print document

    return tuple(meta.find_referenced_templates(template_env().parse(template.read_text(encoding="utf-8"))))


def _referenced(template: Path, root: Path, found: set[Path]) -> None:
    """Add the templates `template` extends, imports or includes, and theirs in turn (names relative to `root`):
    a form may import another form's macros (the diabetes sheet uses the hypertension sheet's)."""
    stat = template.stat()
    for name in _names_referenced(template, stat.st_size, stat.st_mtime_ns):
        path = root / name if name else None  # None: a name computed at render time (no form does that)
        if path is not None and path.is_file() and path not in found:
            found.add(path)
            _referenced(path, root, found)


def _sources(form: FormDef) -> list[Path]:
    """Every file a form's blank layout is made from: its folder (but its 填表说明, printed apart), the shared form
    templates, the print CSS and any template its own imports (another form's macros.html)."""
    forms_root = form.folder.parent
    files = {p for p in form.folder.rglob("*") if p.is_file() and p.name != INSTRUCTIONS_FILE}
    files |= {p for p in forms_root.iterdir() if p.is_file() and p.suffix in (".html", ".css")}
    print_css = forms_root.parent / "print"
    if print_css.is_dir():
        files |= {p for p in print_css.rglob("*") if p.is_file()}
    template = form.folder / "form.html"
    if template.is_file():
        _referenced(template, forms_root.parent, files)
    return sorted(files)


def layout_key(form: FormDef, site: dict[str, str] | None = None) -> str:
    """The hash a blank layout is kept under: template files (with those imported from other forms' folders), CSS,
    fonts, the form's definition (with the site's variants and rows), the site settings, WeasyPrint's version and
    our own format. Any change gives another key."""
    digest = hashlib.sha256()
    definition = (LAYOUT_FORMAT, version("weasyprint"), form.id, form.number, form.title, form.pages, form.header,
                  form.size, form.per_page, form.slot_prefix, form.fields, form.rows, sorted((site or {}).items()))
    digest.update(repr(definition).encode())
    add_files(digest, _sources(form), root=form.folder.parent.parent)
    return digest.hexdigest()


def add_files(digest: Any, files: list[Path], *, root: Path) -> None:  # hashlib's type is private
    """Put into a layout's key the files it is made from (by their place under `root`, templates/, and their
    content) and the shipped fonts (size, mtime and both ends of each)."""
    for path in files:
        digest.update(f"\0{path.relative_to(root)}\0{_file_digest(path)}".encode())
    for filename, _weight in sorted(set(FONT_FACES.values())):
        digest.update(diskcache.fingerprint(font_path(filename)).encode())


def to_json(layout: FormLayout, key: str) -> bytes:
    pages = [{"number": page.number, "width": page.width, "height": page.height,
              "slots": {name: [[s.index, s.kind, s.x, s.y, s.width, s.height, s.size] for s in slots]
                        for name, slots in page.slots.items()}} for page in layout.pages]
    return json.dumps({"format": LAYOUT_FORMAT, "key": key, "form": layout.form.id,
                       "pdf_sha256": hashlib.sha256(layout.pdf).hexdigest(),
                       "pdf": base64.b64encode(layout.pdf).decode("ascii"), "pages": pages}).encode()


def from_json(data: bytes, form: FormDef, key: str, *, page_count: int | None = None) -> FormLayout:
    """A cached layout, checked whole: any doubt (wrong key, truncated, edited, not `page_count` pages — by default
    the form's) raises and the form is laid out."""
    raw = json.loads(data)
    if raw["format"] != LAYOUT_FORMAT or raw["key"] != key or raw["form"] != form.id:
        raise ValueError("another form or version")
    pdf = base64.b64decode(raw["pdf"], validate=True)
    if hashlib.sha256(pdf).hexdigest() != raw["pdf_sha256"] or not pdf.startswith(b"%PDF-"):
        raise ValueError("the PDF does not match its checksum")
    pages = []
    for page in raw["pages"]:
        layout = PageLayout(number=int(page["number"]), width=float(page["width"]), height=float(page["height"]))
        for name, slots in page["slots"].items():
            layout.slots[name] = [Slot(name=name, index=int(i), kind=str(kind), x=float(x), y=float(y),
                                       width=float(w), height=float(h), size=None if size is None else float(size))
                                  for i, kind, x, y, w, h, size in slots]
        pages.append(layout)
    if len(pages) != (form.pages if page_count is None else page_count):
        raise ValueError("page count")
    return FormLayout(form=form, pdf=pdf, pages=pages)


class LayoutEngine:
    """Blank layouts kept in memory and, with a `cache_dir`, on disk: laid out once per installation and version.

    `laid_out` counts the WeasyPrint layouts this engine ran (what tests and the benchmark read). Besides the forms
    it keeps what else is laid out once and reused by every print (the 填表说明 pages: forms/instructions.py).
    """

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self.laid_out = 0
        self._memory: dict[str, Any] = {}
        self._lock = threading.Lock()

    def layout(self, form: FormDef, *, site: dict[str, str] | None = None) -> FormLayout:
        key = layout_key(form, site)
        return self.cached(key, _filename(form, key), build=lambda: self._lay_out(form, site),
                           encode=lambda found: to_json(found, key), decode=lambda data: from_json(data, form, key))

    def preload(self, forms: Iterable[FormDef], *, site: dict[str, str] | None = None) -> int:
        """Read into memory the blank layouts of `forms` that the cache folder already holds, laying out none: what
        an RQ worker does before it forks (jobs/worker.py), so that no job reads them again. Returns how many are
        in memory."""
        if self.cache_dir is None:
            return 0
        loaded = 0
        for form in forms:
            key = layout_key(form, site)
            with self._lock:
                if key not in self._memory:
                    found = self._read(self.cache_dir / _filename(form, key),
                                       lambda data, form=form, key=key: from_json(data, form, key))
                    if found is None:
                        continue
                    self._memory[key] = found
            loaded += 1
        return loaded

    def cached(self, key: str, filename: str, *, build: Callable[[], T], encode: Callable[[T], bytes],
               decode: Callable[[bytes], T]) -> T:
        """What `build` lays out, kept under `key` in memory and in `filename` in the cache folder: read back with
        `decode`, which raises on any doubt (the file is then laid out again and rewritten, never trusted)."""
        with self._lock:
            if key in self._memory:
                return self._memory[key]  # type: ignore[no-any-return]
            path = self.cache_dir / filename if self.cache_dir else None
            if path is None:
                found = self._build(build, filename)
            else:
                found = self._read(path, decode)
                if found is None:
                    found = self._from_disk_or_build(path, build, encode, decode)
            self._memory[key] = found
            return found

    def _build(self, build: Callable[[], T], filename: str) -> T:
        started = time.perf_counter()
        found = build()
        self.laid_out += 1
        log.info("laid out %s in %.2f s", filename, time.perf_counter() - started)  # once per installation
        return found

    def _from_disk_or_build(self, path: Path, build: Callable[[], T], encode: Callable[[T], bytes],
                            decode: Callable[[bytes], T]) -> T:
        with diskcache.exclusive(path.with_suffix(".lock")):
            found = self._read(path, decode)  # another process may have written it while this one waited
            if found is None:
                found = self._build(build, path.name)
                diskcache.write_whole(path, encode(found))
            return found

    def _read(self, path: Path, decode: Callable[[bytes], T]) -> T | None:
        data = diskcache.read(path)
        if data is None:
            return None
        try:
            return decode(data)
        except Exception:  # a truncated or damaged file is laid out again and rewritten, never trusted
            log.warning("layout cache file %s is damaged; laying it out again", path.name)
            return None

    def _lay_out(self, form: FormDef, site: dict[str, str] | None) -> FormLayout:
        document = render(render_blank_html(form, site=site))
        pages = extract_slots(document)
        if len(pages) != form.pages:
            raise RuntimeError(f"form {form.id}: laid out on {len(pages)} pages, form.yaml says {form.pages}")
        return FormLayout(form=form, pdf=document.write_pdf(), pages=pages)


def _filename(form: FormDef, key: str) -> str:
    return f"{form.id}-{key[:32]}.json"


_engine = LayoutEngine()


def engine() -> LayoutEngine:
    """The process's engine, which every print and preview uses."""
    return _engine


def use_cache_dir(directory: Path | None) -> None:
    """Keep blank layouts on disk there, and the font metrics stamping needs beside them (the app, the CLI and the
    job runner name their instance's folder)."""
    _engine.cache_dir = directory
    use_metrics_cache(directory.parent / "fonts" if directory else None)


def layout_form(form: FormDef, *, site: dict[str, str] | None = None) -> FormLayout:
    """The blank form laid out once per installation and form version (and per site settings); every print job
    reuses it."""
    return _engine.layout(form, site=site)
