"""Drawing one label's elements at true size in their frames: fitted text, member lists, whole-dot barcodes, shapes.

A design is placed in a cell by an affine map (stretched to the label, turned 90° when a spine design goes on a
wide label); each element then gets an orthonormal frame on the page, so text is fitted in points and bars are
laid out in printer dots whatever the stretch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from archiveprint.errors import ArchiveprintError
from archiveprint.labels.barcode_sizing import BarcodeTooSmall, LinearPlan, MatrixPlan, plan_code128, plan_qr
from archiveprint.labels.design import Design, Element
from archiveprint.pdf import draw as pdfdraw
from archiveprint.pdf.barcodes import bar_runs
from archiveprint.pdf.fonts import EmbeddedFont
from archiveprint.pdf.writer import num

MM = pdfdraw.MM
CACHE_LIMIT = 50_000  # cached text widths and encodings; cleared when full, so memory stays flat
LEADING = 1.18


@dataclass(frozen=True)
class Frame:
    """An element's own frame on the page, in points: origin at its top-left, `u` along, `v` down."""

    x: float
    y: float
    ux: float
    uy: float
    vx: float
    vy: float
    length: float  # along u
    height: float  # along v

    def point(self, s: float, t: float) -> tuple[float, float]:
        return (self.x + s * self.ux + t * self.vx, self.y + s * self.uy + t * self.vy)

    @cached_property
    def tm(self) -> bytes:
        """The rotation part of a text matrix: text runs along u, its up is −v."""
        return b"%s %s %s %s " % tuple(num(round(v, 5)) for v in (self.ux, self.uy, -self.vx, -self.vy))

    @cached_property
    def axes(self) -> tuple[int, int, int, int]:
        """u and v as whole unit steps: frames only ever turn by quarter turns."""
        return (round(self.ux), round(self.uy), round(self.vx), round(self.vy))

    def rect(self, s0: float, t0: float, s1: float, t1: float) -> tuple[float, float, float, float]:
        """The page rectangle (x0, y0, x1, y1) covering local (s0, t0)–(s1, t1)."""
        ax, ay = self.point(s0, t0)
        bx, by = self.point(s1, t1)
        return (min(ax, bx), min(ay, by), max(ax, bx), max(ay, by))


@dataclass(frozen=True)
class Placement:
    """Where a design goes in one cell: the affine map from design mm (y down) to page points."""

    a: float
    b: float
    c: float
    d: float
    e: float
    f: float
    scale: float  # text scale: the smaller of the two stretch factors

    def map(self, x: float, y: float) -> tuple[float, float]:
        return (self.a * x + self.c * y + self.e, self.b * x + self.d * y + self.f)

    def frame(self, box: tuple[float, float, float, float], rotate: int = 0) -> Frame:
        """The frame of an element box (mm in the design), turned `rotate` degrees counter-clockwise."""
        x, y, w, h = box
        turn = rotate % 360
        local_w, local_h = (w, h) if turn in (0, 180) else (h, w)

        def design_point(s: float, t: float) -> tuple[float, float]:
            if turn == 0:
                return (x + s, y + t)
            if turn == 90:
                return (x + t, y + h - s)
            if turn == 180:
                return (x + w - s, y + h - t)
            return (x + w - t, y + s)

        ox, oy = self.map(*design_point(0, 0))
        ex, ey = self.map(*design_point(max(local_w, 1e-6), 0))
        fx, fy = self.map(*design_point(0, max(local_h, 1e-6)))
        length, height = math.hypot(ex - ox, ey - oy), math.hypot(fx - ox, fy - oy)
        return Frame(ox, oy, (ex - ox) / length, (ey - oy) / length, (fx - ox) / height, (fy - oy) / height,
                     length if local_w else 0.0, height if local_h else 0.0)


def place(design: Design, turn: int, cell_box: tuple[float, float, float, float]) -> Placement:
    """Fit `design` into a cell (x, y, w, h in points): stretched to fill it, turned 90° counter-clockwise if asked."""
    cx, cy, cw, ch = cell_box
    if turn == 0:
        sx, sy = cw / design.width, ch / design.height
        return Placement(sx, 0, 0, -sy, cx, cy + ch, min(sx, sy) / MM)
    sx, sy = ch / design.width, cw / design.height  # the design's width runs up the cell, its height across
    return Placement(0, sx, sy, 0, cx, cy, min(sx, sy) / MM)


def room_along(frame: Frame, cell: tuple[float, float, float, float], *, across: bool = False) -> float:
    """Space inside the label for a symbol centred in its box plus its quiet zones, along u (or v), in points."""
    x, y, w, h = cell
    if across:
        start, end, dx, dy, extent = frame.point(0, 0), frame.point(0, frame.height), frame.vx, frame.vy, frame.height
    else:
        start, end, dx, dy, extent = frame.point(0, 0), frame.point(frame.length, 0), frame.ux, frame.uy, frame.length
    if abs(dx) > 0.5:
        behind = start[0] - x if dx > 0 else x + w - start[0]
        ahead = x + w - end[0] if dx > 0 else end[0] - x
    else:
        behind = start[1] - y if dy > 0 else y + h - start[1]
        ahead = y + h - end[1] if dy > 0 else end[1] - y
    return extent + 2 * max(0.0, min(behind, ahead))


class Painter:
    """Turns elements and values into content-stream operators, with the job's fonts and printer resolution.

    Widths and encodings of texts seen before are cached (village names, common given names, codes repeat).
    """

    def __init__(self, regular: EmbeddedFont, bold: EmbeddedFont | None, dpi: int) -> None:
        self.regular = regular
        self.bold = bold or regular
        self.dpi = dpi
        self.dots_per_pt = dpi / 72
        scale = f"{72 / dpi:.8f}".encode()  # 1 dot; 8 places keep a 3,000-dot page exact to 0.0001 pt
        self._bar_matrix = b"q " + scale + b" 0 0 " + scale + b" 0 0 cm\n"
        self._widths: dict[tuple[str, str], float] = {}
        self._encoded: dict[tuple[str, str], bytes] = {}
        self.last_plan: LinearPlan | MatrixPlan | None = None

    # --- text ---------------------------------------------------------------------------------------------

    def font(self, element: Element) -> EmbeddedFont:
        return self.bold if element.font == "bold" else self.regular

    def width(self, font: EmbeddedFont, text: str) -> float:
        """Advance of `text` at 1 pt."""
        key = (font.resource_name, text)
        found = self._widths.get(key)
        if found is None:
            if len(self._widths) > CACHE_LIMIT:
                self._widths.clear()
            found = self._widths[key] = font.metrics.width(text, 1.0)
        return found

    def run(self, font: EmbeddedFont, text: str, frame: Frame, s: float, t: float, size: float) -> bytes:
        """One text run with its baseline at (s, t) in the frame."""
        key = (font.resource_name, text)
        encoded = self._encoded.get(key)
        if encoded is None:
            if len(self._encoded) > CACHE_LIMIT:
                self._encoded.clear()
            encoded = self._encoded[key] = font.encode(text)
        x = frame.x + s * frame.ux + t * frame.vx
        y = frame.y + s * frame.uy + t * frame.vy
        return b"BT /%s %.2f Tf %s%.2f %.2f Tm %s Tj ET\n" % (font.resource_name.encode(), size, frame.tm, x, y,
                                                             encoded)

    def truncate(self, font: EmbeddedFont, text: str, width: float, size: float) -> str:
        if self.width(font, text) * size <= width:
            return text
        return pdfdraw.truncate(font.metrics, text, width, size)

    def text(self, element: Element, frame: Frame, text: str, scale: float) -> bytes:
        """Fit text in its box: shrink to `min_size`, then wrap onto `lines` lines, then cut with an ellipsis."""
        if not text:
            return b""
        font = self.font(element)
        if element.vertical:
            return self.vertical(element, frame, text, font, scale)
        width, height = frame.length, frame.height
        size = min(element.size * scale, height / 1.02)
        floor = min(element.min_size, size)
        natural = self.width(font, text)
        if natural * size > width:
            size = max(floor, width / natural)
        lines = [text]
        if natural * size > width + 0.01:
            if element.lines > 1:
                size, lines = self._wrap(font, text, width, height, element.size * scale, floor, element.lines)
            else:
                lines = [pdfdraw.truncate(font.metrics, text, width, size)]
        m = font.metrics
        ascent = m.ascent / m.units_per_em * size
        descent = -m.descent / m.units_per_em * size
        leading = size * LEADING
        if element.valign == "top":
            t = ascent
        elif element.valign == "bottom":
            t = height - descent - leading * (len(lines) - 1)
        else:
            block = ascent + descent + leading * (len(lines) - 1)
            t = (height - block) / 2 + ascent
        out = [b"%s g\n" % num(element.gray)] if element.gray else []
        for line_text in lines:
            s = 0.0
            if element.align != "left":
                s = (width - self.width(font, line_text) * size) / (2 if element.align == "center" else 1)
            out.append(self.run(font, line_text, frame, s, t, size))
            t += leading
        if element.gray:
            out.append(b"0 g\n")
        return b"".join(out)

    @staticmethod
    def _wrap(font: EmbeddedFont, text: str, width: float, height: float, size: float, floor: float,
              max_lines: int) -> tuple[float, list[str]]:
        m = font.metrics
        size = min(size, height)
        while True:
            lines = pdfdraw.wrap(m, text, width, size)
            if len(lines) <= max_lines and size + size * LEADING * (len(lines) - 1) <= height + 0.01:
                return size, lines
            if size <= floor:
                break
            size = max(floor, size - 0.5)
        lines = pdfdraw.wrap(m, text, width, floor)
        fitting = max(1, min(max_lines, int((height - floor) // (floor * LEADING)) + 1))
        if len(lines) > fitting:
            kept = lines[:fitting]
            kept[-1] = pdfdraw.truncate(m, kept[-1] + "…", width, floor)
            lines = kept
        return floor, lines

    def vertical(self, element: Element, frame: Frame, text: str, font: EmbeddedFont, scale: float) -> bytes:
        """Characters stacked top to bottom, each upright: a name read on a spine without turning one's head."""
        chars = [ch for ch in text if not ch.isspace()]
        m = font.metrics
        size = min(element.size * scale, frame.length)
        advance = 1.05
        if len(chars) * size * advance > frame.height:
            size = max(min(element.min_size, size), frame.height / (len(chars) * advance))
        fitting = max(1, int(frame.height // (size * advance)))
        if len(chars) > fitting:
            chars = [*chars[:fitting - 1], "︙"]
        block = len(chars) * size * advance
        t = (frame.height - block) / 2 if element.valign == "middle" else 0.0
        ascent = m.ascent / m.units_per_em * size
        out = []
        for ch in chars:
            s = (frame.length - self.width(font, ch) * size) / 2
            out.append(self.run(font, ch, frame, s, t + ascent, size))
            t += size * advance
        return b"".join(out)

    def members(self, element: Element, frame: Frame, members: Sequence[tuple[str, str]], scale: float) -> bytes:
        """Members with their codes in columns, as many as fit; the last place says 等N人 when some are left out."""
        if not members:
            return b""
        font = self.regular
        m = font.metrics
        columns = max(1, element.columns)
        gutter = 1.6 * MM
        col_width = (frame.length - gutter * (columns - 1)) / columns
        size = element.size * scale
        floor = min(element.min_size, size)
        code_ratio = 0.92
        widest = max(self.width(font, name) + self.width(font, " " + code) * code_ratio for name, code in members)
        if widest * size > col_width:
            size = max(floor, col_width / widest)
        row_height = size * 1.32
        rows = max(1, int((frame.height + size * 0.32) // row_height))
        capacity = rows * columns
        shown = list(members)
        more = ""
        if len(members) > capacity:
            shown = list(members[:capacity - 1])
            more = f"等{len(members)}人"
        ascent = m.ascent / m.units_per_em * size
        used_rows = math.ceil((len(shown) + (1 if more else 0)) / columns)
        t0 = (frame.height - used_rows * row_height + size * 0.32) / 2 + ascent - 0.06 * size
        code_size = size * code_ratio
        out = []
        for i, (name, code) in enumerate(shown):
            row, col = divmod(i, columns)
            s = col * (col_width + gutter)
            t = t0 + row * row_height
            code_width = self.width(font, code) * code_size
            name = self.truncate(font, name, col_width - code_width - 0.8 * MM, size)
            out.append(self.run(font, name, frame, s, t, size))
            out.append(b"0.35 g\n" + self.run(font, code, frame, s + col_width - code_width, t, code_size) + b"0 g\n")
        if more:
            row, col = divmod(len(shown), columns)
            out.append(self.run(font, more, frame, col * (col_width + gutter), t0 + row * row_height, size))
        return b"".join(out)

    # --- barcodes -----------------------------------------------------------------------------------------

    def barcode(self, element: Element, frame: Frame, data: str, cell: tuple[float, float, float, float],
                where: str, hint: str = "") -> bytes:
        """A Code128 (or QR) symbol centred in its box; a refusal names the label and stock (`where`) and
        ends with `hint` (what else the clerk could do)."""
        if not data:
            if element.optional:
                return b""
            raise ArchiveprintError("条码内容为空", field=element.field)
        try:
            if element.symbology == "qr":
                return self._qr(frame, data, cell)
            return self._code128(frame, data, cell)
        except BarcodeTooSmall as error:
            raise BarcodeTooSmall("{where}：{message}{hint}。",
                                  params={"where": where, "message": error.message, "hint": hint},
                                  field=error.field, value=error.value) from None

    def _code128(self, frame: Frame, data: str, cell: tuple[float, float, float, float]) -> bytes:
        plan = plan_code128(data, length_mm=frame.length / MM, room_mm=room_along(frame, cell) / MM,
                            height_mm=frame.height / MM, dpi=self.dpi)
        self.last_plan = plan
        dots = plan.dots
        k = self.dots_per_pt
        s0 = (frame.length - len(plan.modules) * dots / k) / 2
        ox, oy = frame.point(s0, 0)
        ox_d, oy_d = round(ox * k), round(oy * k)  # every bar edge lands on the printer's dot grid
        iux, iuy, ivx, ivy = frame.axes
        height = round(frame.height * k)
        parts = [self._bar_matrix]
        for start, width in bar_runs(plan.modules):
            a, b = start * dots, (start + width) * dots
            x0, y0 = ox_d + iux * a, oy_d + iuy * a
            x1, y1 = ox_d + iux * b + ivx * height, oy_d + iuy * b + ivy * height
            parts.append(b"%d %d %d %d re\n" % (min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)))
        parts.append(b"f Q\n")
        return b"".join(parts)

    def _qr(self, frame: Frame, data: str, cell: tuple[float, float, float, float]) -> bytes:
        side = min(frame.length, frame.height)
        room = min(room_along(frame, cell), room_along(frame, cell, across=True))
        plan = plan_qr(data, size_mm=side / MM, room_mm=room / MM, dpi=self.dpi)
        self.last_plan = plan
        dots = plan.dots
        k = self.dots_per_pt
        size = len(plan.matrix) * dots / k
        ox, oy = frame.point((frame.length - size) / 2, (frame.height - size) / 2)
        ox_d, oy_d = round(ox * k), round(oy * k)
        iux, iuy, ivx, ivy = frame.axes
        parts = [self._bar_matrix]
        for row, col, run in pdfdraw.matrix_runs(plan.matrix):
            a, b, t0, t1 = col * dots, (col + run) * dots, row * dots, (row + 1) * dots
            x0, y0 = ox_d + iux * a + ivx * t0, oy_d + iuy * a + ivy * t0
            x1, y1 = ox_d + iux * b + ivx * t1, oy_d + iuy * b + ivy * t1
            parts.append(b"%d %d %d %d re\n" % (min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0)))
        parts.append(b"f Q\n")
        return b"".join(parts)

    # --- shapes -------------------------------------------------------------------------------------------

    @staticmethod
    def line(element: Element, frame: Frame) -> bytes:
        x0, y0 = frame.point(0, 0)
        x1, y1 = frame.point(frame.length, frame.height)
        gray = b"%s G " % num(element.gray) if element.gray else b""
        return b"q " + gray + num(element.stroke) + b" w " + pdfdraw.line(x0, y0, x1, y1) + b"Q\n"

    @staticmethod
    def rect(element: Element, frame: Frame) -> bytes:
        x0, y0, x1, y1 = frame.rect(0, 0, frame.length, frame.height)
        path = pdfdraw.rounded_rect(x0, y0, x1 - x0, y1 - y0, element.radius * MM)
        if element.fill:
            return b"q " + num(element.gray) + b" g " + path + b"f Q\n"
        gray = b"%s G " % num(element.gray) if element.gray else b""
        return b"q " + gray + num(element.stroke) + b" w " + path + b"S Q\n"

    @staticmethod
    def crosshair(element: Element, frame: Frame) -> bytes:
        """A cross through the box centre with a millimetre scale on each arm (1 mm ticks, longer every 5 mm)."""
        cs, ct = frame.length / 2, frame.height / 2
        out = [b"q 0 G ", num(element.stroke), b" w\n",
               pdfdraw.line(*frame.point(0, ct), *frame.point(frame.length, ct)),
               pdfdraw.line(*frame.point(cs, 0), *frame.point(cs, frame.height)), b"0.25 w\n"]
        for extent, along in ((frame.length, True), (frame.height, False)):
            for k in range(1, int((extent / 2) / MM) + 1):
                tick = (1.6 if k % 5 == 0 else 0.8) * MM / 2
                for sign in (-1, 1):
                    if along:
                        s = cs + sign * k * MM
                        out.append(pdfdraw.line(*frame.point(s, ct - tick), *frame.point(s, ct + tick)))
                    else:
                        t = ct + sign * k * MM
                        out.append(pdfdraw.line(*frame.point(cs - tick, t), *frame.point(cs + tick, t)))
        out.append(b"Q\n")
        return b"".join(out)
