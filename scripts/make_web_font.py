"""Make the web app's own font: a small WOFF2 subset of Noto Sans CJK SC and the @font-face rules that load it.

A PC without Chinese fonts (a fresh Linux, a test machine) would otherwise fetch the whole 16 MB font on its first
visit to any page. The subset holds every character of the app's own text (templates/web, the translations, the
Python and YAML strings a page can show) plus the 3,755 常用字 of GB 2312 level 1, so the township's and villages'
names in the header and most residents' names need nothing more; the full font stays as the last fallback, fetched
only for a page that shows a rarer character (𠮷, 䶮).

Re-run after adding UI text in new characters (tests/web/test_web_font.py fails and names them):

    .venv/bin/python scripts/make_web_font.py

It writes fonts/web/NotoSansCJKsc-UI.woff2 and templates/web/static/fonts.css, whose URLs carry each font file's
content hash so browsers may keep them for a year (see _font in archiveprint/web/__init__.py).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FULL = ROOT / "fonts" / "NotoSansCJKsc-Regular.otf"
SUBSET = ROOT / "fonts" / "web" / "NotoSansCJKsc-UI.woff2"
CSS = ROOT / "templates" / "web" / "static" / "fonts.css"
# Where the app's own words live: web templates and scripts, translations, Python messages, shipped YAML data.
SOURCES = (("templates/web", "*.html"), ("templates/web", "*.js"), ("archiveprint", "*.py"), ("archiveprint", "*.po"),
           ("templates", "*.yaml"), ("storage_layout", "*.yaml"))
# The blocks the full font is the fallback for (CJK punctuation, kana, ideographs, compatibility and full-width forms).
CJK_RANGES = "U+2E80-2FDF, U+3000-9FFF, U+F900-FAFF, U+FE10-FE1F, U+FE30-FE4F, U+FF00-FFEF, U+20000-3134F"


def ui_characters(root: Path = ROOT) -> set[str]:
    """Every character the app's own text uses, printable ASCII, and common CJK and full-width punctuation."""
    chars = {chr(c) for c in range(0x20, 0x7F)} | {chr(c) for c in range(0x3000, 0x3040)}
    chars |= {chr(c) for c in range(0xFF01, 0xFF5F)} | set("·—–…‘’“”•※←→↑↓√×÷°℃№")
    for folder, pattern in SOURCES:
        for path in sorted((root / folder).rglob(pattern)):
            chars |= set(path.read_text(encoding="utf-8"))
    return {c for c in chars if c.isprintable() and c != "\ufeff"}


def common_hanzi() -> set[str]:
    """GB 2312 level 1 (一级字): the 3,755 most used characters, in most people's and places' names."""
    chars = set()
    for high in range(0xB0, 0xD8):
        for low in range(0xA1, 0xFF):
            try:
                chars.add(bytes((high, low)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return chars


def unicode_ranges(codepoints: Iterable[int]) -> str:
    """A CSS unicode-range list with runs folded: U+20-7E, U+4E00, …"""
    parts: list[str] = []
    points = sorted(set(codepoints))
    start = prev = points[0]
    for point in [*points[1:], -1]:
        if point == prev + 1:
            prev = point
            continue
        parts.append(f"U+{start:X}" if start == prev else f"U+{start:X}-{prev:X}")
        start = prev = point
    return ", ".join(parts)


def version(path: Path) -> str:
    """The first 12 hex digits of the file's SHA-256: the URL changes whenever the file does."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def make_subset(chars: set[str]) -> set[int]:
    """Write the WOFF2 subset; returns the code points it really covers (the font lacks a few symbols)."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.flavor = "woff2"
    options.layout_features = ["ccmp", "kern", "liga", "calt"]  # no locl/vert: no Japanese or vertical variants
    options.hinting = False
    font = TTFont(FULL)
    available = set(font.getBestCmap())
    wanted = {ord(c) for c in chars} & available
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(wanted))
    subsetter.subset(font)
    SUBSET.parent.mkdir(exist_ok=True)
    font.save(SUBSET)
    return set(font.getBestCmap())


def write_css(covered: set[int]) -> None:
    CSS.write_text(f"""/* Written by scripts/make_web_font.py: do not edit.
   The app's own text in a small subset of Noto Sans CJK SC (fonts/web), the whole font only for rarer characters;
   each URL carries the file's hash (cached for a year). */

@font-face {{
  font-family: "Archiveprint UI";
  src: url("../fonts/{version(SUBSET)}/web/{SUBSET.name}") format("woff2");
  font-display: swap;
  unicode-range: {unicode_ranges(covered)};
}}

@font-face {{
  font-family: "Archiveprint CJK";
  src: local("Noto Sans CJK SC"), local("NotoSansCJKsc-Regular"),
    url("../fonts/{version(FULL)}/{FULL.name}") format("opentype");
  font-display: swap;
  unicode-range: {CJK_RANGES};
}}
""", encoding="utf-8")


def main() -> int:
    covered = make_subset(ui_characters() | common_hanzi())
    write_css(covered)
    print(f"{SUBSET.relative_to(ROOT)}: {SUBSET.stat().st_size:,} bytes, {len(covered):,} characters")
    print(f"{CSS.relative_to(ROOT)} written")
    return 0


if __name__ == "__main__":
    sys.exit(main())
