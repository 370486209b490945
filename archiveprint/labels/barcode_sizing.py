"""Barcode sizing for labels: modules are whole printer dots, never below a safe width, quiet zones kept clear.

A module that is not a whole number of printer dots prints as alternating thin and thick bars, so a module is k dots
(203 dpi: 2 dots = 0.250 mm, 3 dots = 0.375 mm). Which k is safe was measured (Code128 of 17- and 19-character
codes, rasterised by pdfium at 200 and 300 dpi, 120–150 placements each, plain and blurred, decoded by zxing-cpp):
0.254 mm — 3 dots at 300 dpi, 6 at 600 — is exactly 2 pixels of a 200-dpi reader, so every bar edge shares one
sub-pixel phase and 2–10 % of placements fail once slightly blurred; 0.250 mm at 203 dpi drifts in phase and never
failed; every width from 0.27 mm up decoded every time. docs/labels.md has the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from archiveprint.errors import N_, InvalidValue
from archiveprint.pdf.barcodes import code128_modules, qr_matrix

SAFE_MODULE_MM = 0.27  # Code128 floor for printers not in SAFE_DOTS
SAFE_DOTS = {203: 2, 300: 4, 600: 7}  # measured: 0.250, 0.339 and 0.296 mm; 0.254 mm is not safe (see above)
MAX_MODULE_MM = 0.5  # wider bars only make the symbol longer than a scanner's field of view
QUIET_MODULES = 10  # Code128 needs 10 modules of white on each side
MIN_BAR_HEIGHT_MM = 5.0  # handheld scanners aim badly at anything shorter
QR_SAFE_MODULE_MM = 0.4
QR_MAX_MODULE_MM = 1.0
QR_QUIET_MODULES = 4
COMMON_DPI = (203, 300, 600)


class BarcodeTooSmall(InvalidValue):
    """A label layout would squeeze a barcode below the safe module width for the chosen printer."""


QR_HINT = N_("，或改用二维码（--qr）")  # what a label printer adds to a BarcodeTooSmall (the web offers its own)


def dot_mm(dpi: int) -> float:
    return 25.4 / dpi


def safe_dots(dpi: int, floor_mm: float | None = None) -> int:
    """The fewest whole dots a Code128 module (or, given `floor_mm`, a QR module) may have on a `dpi` printer."""
    if floor_mm is None:
        if dpi in SAFE_DOTS:
            return SAFE_DOTS[dpi]
        floor_mm = SAFE_MODULE_MM
    dots = 1
    while dots * dot_mm(dpi) < floor_mm - 0.001:
        dots += 1
    return dots


def module_table(dpis: tuple[int, ...] = COMMON_DPI, modules: int = 156) -> list[dict[str, object]]:
    """Safe module widths per printer resolution, with the length of a folder-code symbol (docs/labels.md)."""
    rows = []
    for dpi in dpis:
        dots = safe_dots(dpi)
        width = dots * dot_mm(dpi)
        qr_dots = safe_dots(dpi, QR_SAFE_MODULE_MM)
        rows.append({"dpi": dpi, "dots": dots, "module_mm": round(width, 3),
                     "symbol_mm": round((modules + 2 * QUIET_MODULES) * width, 1),
                     "qr_dots": qr_dots, "qr_module_mm": round(qr_dots * dot_mm(dpi), 3)})
    return rows


@dataclass(frozen=True)
class LinearPlan:
    """A Code128 symbol sized for one printer: its modules and the whole-dot module width."""

    data: str
    modules: str  # '1' bar / '0' space, start to stop
    dots: int
    dpi: int

    @property
    def module_mm(self) -> float:
        return self.dots * dot_mm(self.dpi)

    @property
    def length_mm(self) -> float:
        """Bars only, start character to stop character."""
        return len(self.modules) * self.module_mm

    @property
    def quiet_mm(self) -> float:
        return QUIET_MODULES * self.module_mm


@dataclass(frozen=True)
class MatrixPlan:
    """A QR symbol sized for one printer."""

    data: str
    matrix: tuple[tuple[int, ...], ...]
    dots: int
    dpi: int

    @property
    def module_mm(self) -> float:
        return self.dots * dot_mm(self.dpi)

    @property
    def size_mm(self) -> float:
        return len(self.matrix) * self.module_mm

    @property
    def quiet_mm(self) -> float:
        return QR_QUIET_MODULES * self.module_mm


def plan_code128(data: str, *, length_mm: float, room_mm: float, height_mm: float, dpi: int) -> LinearPlan:
    """The widest whole-dot module (up to 0.5 mm) at which the bars fit `length_mm` and, with both quiet zones,
    `room_mm` (the label's width along the symbol). Refuses anything below the safe module width."""
    if not data:
        raise InvalidValue("条码内容为空", field="条码")
    modules = code128_modules(data)
    safe = safe_dots(dpi)
    dots = max(safe, int(MAX_MODULE_MM / dot_mm(dpi) + 1e-9))
    while dots >= safe:
        width = dots * dot_mm(dpi)
        if len(modules) * width <= length_mm + 1e-6 and (len(modules) + 2 * QUIET_MODULES) * width <= room_mm + 1e-6:
            break
        dots -= 1
    else:
        width = safe * dot_mm(dpi)
        need = (len(modules) + 2 * QUIET_MODULES) * width
        raise BarcodeTooSmall(
            "条码放不下：{digits} 位的编号共 {modules} 个模块，{dpi} dpi 打印机上每个模块至少 {width:.3f} mm"
            "（{safe} 个打印点），条码连同两侧静区需要 {need:.1f} mm（条码本身 {length:.1f} mm），"
            "这种标签上只有 {room:.1f} mm，请换更宽的标签纸",
            params={"digits": len(data), "modules": len(modules), "dpi": dpi, "width": width, "safe": safe,
                    "need": need, "length": len(modules) * width, "room": min(length_mm, room_mm)},
            field="条码", value=data)
    if height_mm + 1e-6 < MIN_BAR_HEIGHT_MM:
        raise BarcodeTooSmall("条码高度只有 {height_mm:.1f} mm，至少需要 {min_bar_height_mm:.0f} mm 才能稳定扫描；"
                              "请换更大的标签纸",
                              params={"height_mm": height_mm, "min_bar_height_mm": MIN_BAR_HEIGHT_MM}, field="条码",
                              value=data)
    return LinearPlan(data, modules, dots, dpi)


def plan_qr(data: str, *, size_mm: float, room_mm: float, dpi: int) -> MatrixPlan:
    """The largest whole-dot module (up to 1 mm) at which the QR symbol fits `size_mm` and its quiet zone
    `room_mm`; refuses anything below 0.4 mm."""
    if not data:
        raise InvalidValue("二维码内容为空", field="二维码")
    matrix = qr_matrix(data)
    n = len(matrix)
    safe = safe_dots(dpi, QR_SAFE_MODULE_MM)
    dots = max(safe, int(QR_MAX_MODULE_MM / dot_mm(dpi) + 1e-9))
    while dots >= safe:
        width = dots * dot_mm(dpi)
        if n * width <= size_mm + 1e-6 and (n + 2 * QR_QUIET_MODULES) * width <= room_mm + 1e-6:
            return MatrixPlan(data, matrix, dots, dpi)
        dots -= 1
    width = safe * dot_mm(dpi)
    raise BarcodeTooSmall("二维码放不下：需要 {need:.1f} mm 见方（含静区），"
                          "标签上只有 {room:.1f} mm",
                          params={"need": (n + 2 * QR_QUIET_MODULES) * width, "room": min(size_mm, room_mm)},
                          field="二维码", value=data)
