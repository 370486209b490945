"""The shipped CJK fonts, their metrics, and subsets embedded for stamped text: CID-keyed CFF, Identity-H, ToUnicode.

Codes are the font's own CIDs (Noto CJK is CID-keyed), so the subset keeps them and text stays searchable and
extractable. One subset per print job holds exactly the characters that job prints.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont

from archiveprint import diskcache, resources
from archiveprint.pdf.writer import PdfStream, array, dictionary, literal, name, num, ref

FONT_FACES = {
    # family → (file, weight). 宋体-like serif for body text, 黑体-like sans for titles and labels.
    "AP Serif": ("NotoSerifCJKsc-Regular.otf", "normal"),
    "AP Sans": ("NotoSansCJKsc-Regular.otf", "normal"),
    "AP Sans Bold": ("NotoSansCJKsc-Bold.otf", "bold"),
}
BODY_FONT = "NotoSerifCJKsc-Regular.otf"


def font_path(filename: str = BODY_FONT) -> Path:
    return resources.font_dir() / filename


def font_face_css() -> str:
    rules = []
    for family, (filename, weight) in FONT_FACES.items():
        rules.append(f"@font-face {{ font-family: '{family}'; font-weight: {weight}; "
                     f"src: url('{font_path(filename).as_uri()}'); }}")
    # Bold sans is its own family above, and also the bold face of "AP Sans".
    rules.append(f"@font-face {{ font-family: 'AP Sans'; font-weight: bold; "
                 f"src: url('{font_path('NotoSansCJKsc-Bold.otf').as_uri()}'); }}")
    return "\n".join(rules)


@dataclass(frozen=True)
class FontMetrics:
    """What layout needs from a font file, read once per process."""

    path: Path
    postscript_name: str
    units_per_em: int
    cids: dict[int, int]  # code point → CID
    widths: dict[int, int]  # CID → advance in font units
    ascent: int
    descent: int
    cap_height: int
    bbox: tuple[int, int, int, int]

    def has(self, char: str) -> bool:
        return ord(char) in self.cids

    def missing(self, text: Iterable[str]) -> set[str]:
        """Characters the font cannot draw (reported to the clerk before printing, never a silent box)."""
        return {ch for ch in "".join(text) if not ch.isspace() and ord(ch) not in self.cids}

    def width(self, text: str, size: float) -> float:
        units = sum(self.widths.get(self.cids.get(ord(ch), 0), self.units_per_em) for ch in text)
        return units * size / self.units_per_em


METRICS_FORMAT = 1
_metrics_dir: list[Path | None] = [None]  # set by use_metrics_cache; a list so no `global` is needed


def use_metrics_cache(directory: Path | None) -> None:
    """Keep fonts' metrics on disk there (reading them from the 24 MB font takes about a second each start)."""
    _metrics_dir[0] = directory


@lru_cache(maxsize=4)
def load_metrics(path: Path) -> FontMetrics:
    """A font's metrics, once per process: from the disk cache when one is set and matches the font, else read
    from the font file (and then written to the cache)."""
    directory = _metrics_dir[0]
    if directory is None:
        return _read_metrics(path)
    key = diskcache.fingerprint(path)
    cached = directory / f"{path.stem}-{key[:32]}.json"
    data = diskcache.read(cached)
    if data is not None:
        try:
            return _metrics_from_json(data, path, key)
        except Exception:  # damaged: read the font again and rewrite
            pass
    metrics = _read_metrics(path)
    diskcache.write_whole(cached, _metrics_to_json(metrics, key))
    return metrics


def _metrics_to_json(m: FontMetrics, key: str) -> bytes:
    return json.dumps({"format": METRICS_FORMAT, "key": key, "postscript_name": m.postscript_name,
                       "units_per_em": m.units_per_em, "cids": list(m.cids.items()),
                       "widths": list(m.widths.items()), "ascent": m.ascent, "descent": m.descent,
                       "cap_height": m.cap_height, "bbox": list(m.bbox)}).encode()


def _metrics_from_json(data: bytes, path: Path, key: str) -> FontMetrics:
    raw = json.loads(data)
    if raw["format"] != METRICS_FORMAT or raw["key"] != key:
        raise ValueError("another font")
    x0, y0, x1, y1 = (int(v) for v in raw["bbox"])
    cids = {int(code): int(cid) for code, cid in raw["cids"]}
    if not cids:
        raise ValueError("no characters")
    return FontMetrics(path=path, postscript_name=str(raw["postscript_name"]), units_per_em=int(raw["units_per_em"]),
                       cids=cids, widths={int(cid): int(width) for cid, width in raw["widths"]},
                       ascent=int(raw["ascent"]), descent=int(raw["descent"]), cap_height=int(raw["cap_height"]),
                       bbox=(x0, y0, x1, y1))


def _read_metrics(path: Path) -> FontMetrics:
    with TTFont(path, lazy=True) as font:
        order = {glyph: int(glyph[3:]) if glyph.startswith("cid") else 0 for glyph in font.getGlyphOrder()}
        cids = {code: order.get(glyph, 0) for code, glyph in font.getBestCmap().items()}
        hmtx = font["hmtx"].metrics
        widths = {order[glyph]: advance for glyph, (advance, _lsb) in hmtx.items() if glyph in order}
        os2, head = font["OS/2"], font["head"]
        return FontMetrics(
            path=path,
            postscript_name=font["name"].getDebugName(6) or path.stem,
            units_per_em=head.unitsPerEm,
            cids=cids,
            widths=widths,
            ascent=os2.sTypoAscender,
            descent=os2.sTypoDescender,
            cap_height=getattr(os2, "sCapHeight", 733) or 733,
            bbox=(head.xMin, head.yMin, head.xMax, head.yMax),
        )


@dataclass
class EmbeddedFont:
    """A job's subset of one font: encode text to CIDs now, write the font objects once at the end or start."""

    metrics: FontMetrics
    resource_name: str = "F1"
    used: set[int] = field(default_factory=set)  # code points
    obj_id: int | None = None

    def encode(self, text: str) -> bytes:
        """Hex string operand for Tj; unknown characters become CID 0 (.notdef) — callers check `missing` first."""
        cids = self.metrics.cids
        self.used.update(ord(ch) for ch in text)
        return b"<" + "".join(f"{cids.get(ord(ch), 0):04X}" for ch in text).encode() + b">"

    def write(self, pdf: PdfStream, obj_id: int | None = None) -> int:
        """Subset the font to the characters used so far and write Type0 + CIDFont + descriptor + program."""
        codes = sorted(code for code in self.used if code in self.metrics.cids)
        program = _subset_program(self.metrics.path, tuple(codes))

        tag = "".join(chr(65 + b % 26) for b in hashlib.sha1(bytes(str(codes), "ascii")).digest()[:6])
        base_name = f"{tag}+{self.metrics.postscript_name}"
        m = self.metrics
        scale = 1000 / m.units_per_em
        cid_to_code = {m.cids[code]: code for code in codes}
        file_id = pdf.write_stream(program, {"Subtype": b"/CIDFontType0C"})
        descriptor_id = pdf.write_object(dictionary({
            "Type": b"/FontDescriptor", "FontName": name(base_name), "Flags": b"4",
            "FontBBox": array(num(v * scale) for v in m.bbox), "ItalicAngle": b"0",
            "Ascent": num(m.ascent * scale), "Descent": num(m.descent * scale),
            "CapHeight": num(m.cap_height * scale), "StemV": b"80", "FontFile3": ref(file_id),
        }))
        widths = b" ".join(f"{cid} [{num(m.widths.get(cid, m.units_per_em) * scale).decode()}]".encode()
                           for cid in sorted(cid_to_code))
        cid_font_id = pdf.write_object(dictionary({
            "Type": b"/Font", "Subtype": b"/CIDFontType0", "BaseFont": name(base_name),
            "CIDSystemInfo": dictionary({"Registry": literal("Adobe"), "Ordering": literal("Identity"),
                                         "Supplement": b"0"}),
            "FontDescriptor": ref(descriptor_id), "DW": b"1000", "W": b"[" + widths + b"]",
        }))
        to_unicode_id = pdf.write_stream(_to_unicode(cid_to_code))
        self.obj_id = pdf.write_object(dictionary({
            "Type": b"/Font", "Subtype": b"/Type0", "BaseFont": name(base_name), "Encoding": b"/Identity-H",
            "DescendantFonts": array([ref(cid_font_id)]), "ToUnicode": ref(to_unicode_id),
        }), obj_id)
        return self.obj_id


def preload_subsetter() -> None:
    """Import fontTools' subsetter now (~0.2 s): an RQ worker does before it forks a work horse per job."""
    from fontTools import subset  # noqa: F401  # lazy: fontTools' subsetter only where a job embeds stamped text


@lru_cache(maxsize=16)
def _subset_program(path: Path, codes: tuple[int, ...]) -> bytes:
    """The CFF program of `path` cut down to `codes` (cached: previews and small jobs repeat the same set)."""
    from fontTools import subset  # lazy: fontTools' subsetter only when a job embeds stamped text

    options = subset.Options()
    options.name_IDs = []
    options.layout_features = []
    options.hinting = False
    options.notdef_outline = True
    options.desubroutinize = True
    # Only the CFF program is embedded: skip decompiling the layout and vertical tables (faster, same bytes).
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "VORG", "vhea", "vmtx"]
    with TTFont(path, lazy=True) as font:
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=list(codes))
        subsetter.subset(font)
        return font.getTableData("CFF ")


def _to_unicode(cid_to_code: dict[int, int]) -> bytes:
    """A CMap from CIDs back to Unicode (UTF-16BE, surrogate pairs for Extension B such as 𠮷)."""
    lines = [
        "/CIDInit /ProcSet findresource begin", "12 dict begin", "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Adobe-Identity-UCS def", "/CMapType 2 def",
        "1 begincodespacerange", "<0000> <FFFF>", "endcodespacerange",
    ]
    items = sorted(cid_to_code.items())
    for start in range(0, len(items), 100):
        chunk = items[start:start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        lines += [f"<{cid:04X}> <{chr(code).encode('utf-16-be').hex().upper()}>" for cid, code in chunk]
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode()
