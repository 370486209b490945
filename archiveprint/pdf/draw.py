"""Content-stream drawing without a layout engine: text runs in the job's embedded font, fitting, shapes, QR runs.

Shared by the printers that stamp straight into streamed pages (forms stamp values, labels draw whole labels), so a
batch of thousands of pages costs string formatting, not layout.
"""

from __future__ import annotations

from collections.abc import Sequence

from archiveprint.pdf.fonts import EmbeddedFont, FontMetrics
from archiveprint.pdf.writer import num

MM = 72 / 25.4  # points per millimetre
KAPPA = 0.5523  # Bézier handle length for a quarter circle
BREAK_AFTER = " ·、，,;；/-"  # wrapping prefers to break after these


def text_run(font: EmbeddedFont, text: str, x: float, y: float, size: float) -> bytes:
    """`text` with its baseline starting at (x, y), upright."""
    return b"BT /" + font.resource_name.encode() + b" " + num(size) + b" Tf " + num(x) + b" " + num(y) + \
        b" Td " + font.encode(text) + b" Tj ET\n"


def fit_size(metrics: FontMetrics, text: str, width: float, size: float, minimum: float) -> float:
    """The largest size up to `size` at which `text` fits `width` (never below `minimum`)."""
    needed = metrics.width(text, size)
    if needed <= width or needed == 0:
        return size
    return max(minimum, size * width / needed)


def wrap(metrics: FontMetrics, text: str, width: float, size: float) -> list[str]:
    """Greedy line breaking for CJK text: any character may start a line, spaces and · are preferred breaks."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for ch in paragraph:
            if current and metrics.width(current + ch, size) > width:
                cut = max(current.rfind(b) for b in BREAK_AFTER)
                if 0 < cut < len(current) - 1 and len(current) - cut <= 6:
                    lines.append(current[:cut + 1].rstrip())
                    current = current[cut + 1:].lstrip() + ch
                else:
                    lines.append(current)
                    current = ch.lstrip()
            else:
                current += ch
        lines.append(current)
    return lines


def truncate(metrics: FontMetrics, text: str, width: float, size: float, ellipsis: str = "…") -> str:
    """`text` cut to fit `width`, ending in an ellipsis when anything was cut."""
    if metrics.width(text, size) <= width:
        return text
    room = width - metrics.width(ellipsis, size)
    kept = ""
    for ch in text:
        if metrics.width(kept + ch, size) > room:
            break
        kept += ch
    return kept.rstrip(" ·、") + ellipsis


def rect(x: float, y: float, w: float, h: float) -> bytes:
    return num(x) + b" " + num(y) + b" " + num(w) + b" " + num(h) + b" re\n"


def rounded_rect(x: float, y: float, w: float, h: float, r: float) -> bytes:
    """A closed rectangle path with rounded corners (label outlines follow the die-cut)."""
    r = max(0.0, min(r, w / 2, h / 2))
    if r == 0:
        return rect(x, y, w, h)
    k = r * KAPPA
    pts = [
        (b"m", (x + r, y)), (b"l", (x + w - r, y)), (b"c", (x + w - r + k, y, x + w, y + r - k, x + w, y + r)),
        (b"l", (x + w, y + h - r)), (b"c", (x + w, y + h - r + k, x + w - r + k, y + h, x + w - r, y + h)),
        (b"l", (x + r, y + h)), (b"c", (x + r - k, y + h, x, y + h - r + k, x, y + h - r)),
        (b"l", (x, y + r)), (b"c", (x, y + r - k, x + r - k, y, x + r, y)),
    ]
    return b" ".join(b" ".join(num(round(v, 3)) for v in values) + b" " + op for op, values in pts) + b" h\n"


def line(x0: float, y0: float, x1: float, y1: float) -> bytes:
    return num(round(x0, 3)) + b" " + num(round(y0, 3)) + b" m " + num(round(x1, 3)) + b" " + \
        num(round(y1, 3)) + b" l S\n"


def matrix_runs(rows: Sequence[Sequence[int | bool]]) -> list[tuple[int, int, int]]:
    """(row, first column, length) of every run of dark modules in a 2-D code, so a QR is a few hundred rects."""
    runs = []
    for r, row in enumerate(rows):
        start = None
        for c, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = c
            elif not dark and start is not None:
                runs.append((r, start, c - start))
                start = None
    return runs
