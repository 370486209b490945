"""Stamp values onto a blank form page: one small content stream per page, text fitted inside each slot."""

from __future__ import annotations

from dataclasses import dataclass

from archiveprint.forms.layout import PageLayout, Slot
from archiveprint.pdf.barcodes import code128_modules, pdf_bars, with_check
from archiveprint.pdf.draw import (
    MM,
    fit_size,
    text_run,
    wrap,
)
from archiveprint.pdf.fonts import EmbeddedFont
from archiveprint.register.codes import format_code


@dataclass(frozen=True)
class StampStyle:
    text_size: float = 10.0
    box_size: float = 9.5
    min_size: float = 5.0
    mark_size: float = 6.5
    module: float = 0.25 * MM  # re-filing barcode module width: decodes from 0.21 mm at 300 dpi
    bar_height: float = 6.0 * MM


DEFAULT_STYLE = StampStyle()


def _text(font: EmbeddedFont, text: str, x: float, y: float, size: float) -> bytes:
    return text_run(font, text, x, y, size)


def _fit(font: EmbeddedFont, text: str, width: float, size: float, minimum: float) -> float:
    return fit_size(font.metrics, text, width, size, minimum)


def _in_box(font: EmbeddedFont, text: str, slot: Slot, style: StampStyle) -> bytes:
    size = _fit(font, text, slot.width - 1.0, min(style.box_size, slot.height * 0.8), style.min_size)
    width = font.metrics.width(text, size)
    x = slot.x + (slot.width - width) / 2
    y = slot.y + (slot.height - size * 0.72) / 2
    return _text(font, text, x, y, size)


def _on_line(font: EmbeddedFont, text: str, slot: Slot, style: StampStyle) -> bytes:
    """Text sits on the line, left-aligned, shrunk to fit; the space above stays free for corrections."""
    size = _fit(font, text, slot.width - 2.0, slot.size or min(style.text_size, slot.height * 0.75), style.min_size)
    body = _text(font, text, slot.x + 1.0, slot.y + 1.8, size)
    if font.metrics.width(text, size) > slot.width - 2.0:  # still too long at the smallest size: clip, never overprint
        clip = f"{slot.x:.2f} {slot.y:.2f} {slot.width:.2f} {slot.height:.2f} re W n\n".encode()
        return b"q " + clip + body + b"Q\n"
    return body


def _tick(slot: Slot) -> bytes:
    """A drawn check mark (✓) inside a tick box, for the card's tick-one / tick-any items."""
    x, y, w, h = slot.x, slot.y, slot.width, slot.height
    return (f"q 0 G 1 w 1 J 1 j {x + w * 0.18:.2f} {y + h * 0.5:.2f} m {x + w * 0.42:.2f} {y + h * 0.2:.2f} l "
            f"{x + w * 0.85:.2f} {y + h * 0.85:.2f} l S Q\n").encode()


def _in_area(font: EmbeddedFont, text: str, slot: Slot, style: StampStyle) -> bytes:
    size = slot.size or style.text_size
    leading = size * 1.35
    out = []
    y = slot.y + slot.height - size
    for line_text in wrap(font.metrics, text, slot.width - 2, size):
        if y < slot.y:
            break
        out.append(_text(font, line_text, slot.x + 1.0, y, size))
        y -= leading
    return b"".join(out)


def stamp_values(page: PageLayout, values: dict[str, str], font: EmbeddedFont,
                 style: StampStyle = DEFAULT_STYLE) -> bytes:
    """Content-stream operators drawing every value whose slot is on this page."""
    out = [b"0 g\n"]
    for slot_name, slots in page.slots.items():
        value = values.get(slot_name)
        if not value:
            continue
        kind = slots[0].kind
        if kind == "tick":
            out.append(_tick(slots[0]))
        elif kind == "box":
            if "/" in value:
                parts = value.split("/")
            elif len(slots) > 1:
                parts = list(value)
            else:
                parts = [value]
            for slot, part in zip(slots, parts, strict=False):
                if part:
                    out.append(_in_box(font, part, slot, style))
        elif kind == "area":
            out.append(_in_area(font, value, slots[0], style))
        else:
            out.append(_on_line(font, value, slots[0], style))
    return b"".join(out)


def refile_code(code17: str, form_number: int, page: int) -> str:
    """What the margin barcode carries: archive code + form number + page + our own check digit (21 digits)."""
    return with_check(f"{code17}{form_number:02d}{page % 10}")


def refile_mark(page: PageLayout, *, code17: str, form_title: str, form_number: int, page_number: int,
                page_count: int, font: EmbeddedFont, style: StampStyle = DEFAULT_STYLE) -> bytes:
    """A small mark in the bottom margin so a loose sheet can be scanned back to its folder."""
    data = refile_code(code17, form_number, page_number)
    modules = code128_modules(data)
    quiet = 10 * style.module
    bar_width = len(modules) * style.module
    x_bar = page.width - 15 * MM - bar_width - quiet
    y_bar = 5 * MM
    label = f"{format_code(code17)} · {form_title} · 第{page_number}/{page_count}页"
    return (b"0 g\n" + pdf_bars(modules, x_bar, y_bar, style.module, style.bar_height)
            + _text(font, label, 15 * MM, y_bar + 1.5, style.mark_size))
