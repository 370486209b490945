"""Barcode patterns shared by forms and labels: Code128 modules (via python-barcode) and our own check digit."""

from __future__ import annotations

from functools import lru_cache

# ISO 7064 MOD 11,10: a one-digit check character that catches every single-digit error and most transpositions.


def mod11_10(digits: str) -> str:
    product = 10
    for ch in digits:
        total = (int(ch) + product) % 10 or 10
        product = (total * 2) % 11
    return str((11 - product) % 10)


def with_check(digits: str) -> str:
    return digits + mod11_10(digits)


def is_valid_check(digits: str) -> bool:
    return len(digits) > 1 and digits.isdigit() and mod11_10(digits[:-1]) == digits[-1]


@lru_cache(maxsize=4096)
def code128_modules(data: str) -> str:
    """The bar/space pattern as '1'/'0' modules, start to stop; all-digit data uses code set C."""
    from barcode.codex import Code128  # lazy: python-barcode only to draw a barcode, not for check digits

    return Code128(data).build()[0]


def bar_runs(modules: str) -> list[tuple[int, int]]:
    """(start module, width in modules) of each bar, so a barcode is a handful of rectangles."""
    runs = []
    start = None
    for i, bit in enumerate(modules + "0"):
        if bit == "1" and start is None:
            start = i
        elif bit == "0" and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def pdf_bars(modules: str, x: float, y: float, module: float, height: float) -> bytes:
    """PDF path operators filling the bars of a barcode whose lower-left corner is (x, y), in points."""
    parts = [f"{x + start * module:.3f} {y:.3f} {width * module:.3f} {height:.3f} re"
             for start, width in bar_runs(modules)]
    return ("\n".join(parts) + "\nf\n").encode()


@lru_cache(maxsize=1024)
def qr_matrix(data: str, error: str = "m") -> tuple[tuple[int, ...], ...]:
    """QR modules, 1 = dark, without the quiet zone; segno picks the smallest version and the densest mode."""
    import segno  # lazy: segno only to draw a QR code

    code = segno.make_qr(data, error=error, boost_error=False)
    return tuple(tuple(1 if cell else 0 for cell in row) for row in code.matrix)
