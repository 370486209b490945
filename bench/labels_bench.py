"""Labels benchmark: 10,000 household folder labels on A4 3×8 — our engine vs ReportLab vs gLabels batch.

Run from the checkout:  .venv/bin/python bench/labels_bench.py  [--labels 10000] [--stock a4-3x8] [--skip-glabels]

All three draw the same label for the same synthetic households (archiveprint.register.demo.generate, no database):
village, household number, head of household, members with their codes, the folder code as Code128 and its grouped
human-readable form.
  engine     archiveprint.labels: content streams written straight into a streaming PDF, one font subset per job;
  reportlab  the same texts and a reportlab.graphics.barcode Code128 on a canvas (pip install reportlab). Noto CJK
             ships as CFF-flavoured OpenType, which ReportLab cannot embed, so it embeds Debian's TrueType
             DroidSansFallbackFull (a subset, as we do); without it, it is skipped;
  glabels    a generated .glabels document (A4 3×8 template, text and a gnu-barcode Code128 bound to merge fields)
             merged with a CSV of the same values by `glabels-3-batch` (apt-get install glabels). It runs headless;
             if it ever needs a display, the case is retried under `xvfb-run -a`.
Every case runs in its own subprocess, so its peak RSS (VmHWM, or the child's ru_maxrss for gLabels) is its own.
Afterwards the first sheet of each output is rasterised at 300 dpi and its barcodes decoded (zxing-cpp).
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TODAY = date(2026, 11, 25)
DROID = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
MM = 72 / 25.4


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def households(count: int) -> list[dict]:
    """Plain label values for `count` synthetic households (the demo generator, no database needed)."""
    from archiveprint.labels.content import HouseholdFacts, Member, household_values
    from archiveprint.register import demo

    villages = max(1, count // 1000)
    township = demo.generate(seed=2026, villages=villages, households_per_village=count // villages + 1,
                             today=TODAY)
    names = {v.code: v.name for v in township.villages}
    numbers: dict[str, int] = {}
    out = []
    for household in township.households[:count]:
        numbers[household.village_code] = numbers.get(household.village_code, 0) + 1
        facts = HouseholdFacts(township.county_code + township.township_code + household.village_code,
                               names[household.village_code], numbers[household.village_code], household.head_name,
                               tuple(Member(m.name, m.archive_code) for m in household.members),
                               township.township_name, township.unit_name)
        out.append(household_values(facts))
    return out


def child_engine(count: int, stock_id: str, out: Path) -> dict:
    from archiveprint.labels.render import NOTICE, LabelPrinter
    from archiveprint.labels.services import label_kinds, label_stocks

    values = households(count)
    start = time.perf_counter()
    with out.open("wb") as fp:
        printer = LabelPrinter(fp, label_stocks()[stock_id], label_kinds()["folder"], notice=NOTICE)
        for item in values:
            printer.add(item)
        pages = printer.close(title="bench")
    seconds = time.perf_counter() - start
    return {"labels": printer.labels, "pages": pages, "seconds": seconds, "bytes": out.stat().st_size,
            "module_mm": round(printer.last_plan.module_mm, 3) if printer.last_plan else None}


def child_reportlab(count: int, stock_id: str, out: Path) -> dict:
    try:
        from reportlab.graphics.barcode.code128 import Code128
        from reportlab.pdfbase import pdfmetrics
        from reportlab.pdfbase.ttfonts import TTFont
        from reportlab.pdfgen import canvas
    except ImportError:
        return {"skipped": "ReportLab is not installed (.venv/bin/pip install reportlab)"}
    if not DROID.exists():
        return {"skipped": f"no TrueType CJK font at {DROID} (apt-get install fonts-droid-fallback)"}
    from archiveprint.labels.services import label_stocks
    from archiveprint.labels.sheet import layout_cells

    stock = label_stocks()[stock_id]
    values = households(count)
    start = time.perf_counter()
    pdfmetrics.registerFont(TTFont("Droid", str(DROID)))
    page = canvas.Canvas(str(out), pagesize=(stock.page_width * MM, stock.page_height * MM))
    current = 0
    for cell, item in zip(layout_cells(stock, len(values)), values, strict=True):
        if cell.page != current:
            page.showPage()
            current = cell.page
        x, y, _w, h = cell.pdf_box(stock.page_height)
        top = y + h
        page.setFont("Droid", 12.5)
        page.drawString(x + 3 * MM, top - 7 * MM, item["village_name"])
        page.setFont("Droid", 15.5)
        page.drawRightString(x + 60.5 * MM, top - 7.2 * MM, item["household_no_text"])
        page.line(x + 3 * MM, top - 8.9 * MM, x + 60.5 * MM, top - 8.9 * MM)
        page.setFont("Droid", 6.5)
        page.drawString(x + 3 * MM, top - 13.6 * MM, "户主")
        page.setFont("Droid", 13.5)
        page.drawString(x + 9.2 * MM, top - 14 * MM, item["head_name"])
        page.setFont("Droid", 5.8)
        for i, (name, code) in enumerate(item["members"][:6]):
            column, row = i % 3, i // 3
            page.drawString(x + (3 + column * 19.7) * MM, top - (18 + row * 2.7) * MM, f"{name} {code}")
        barcode = Code128(item["folder_code"], barWidth=0.339 * MM, barHeight=7 * MM, quiet=False)
        barcode.drawOn(page, x + 3 * MM + (57.5 * MM - barcode.width) / 2, top - 28.7 * MM)
        page.setFont("Droid", 9.5)
        page.drawCentredString(x + 31.75 * MM, top - 32 * MM, item["folder_code_display"])
    page.save()
    seconds = time.perf_counter() - start
    import pypdf

    return {"labels": len(values), "pages": len(pypdf.PdfReader(out).pages), "seconds": seconds,
            "bytes": out.stat().st_size}


def glabels_document(stock, csv_path: Path) -> str:  # type: ignore[no-untyped-def]
    """A gLabels 3 document: the stock as a template, our folder label as objects bound to merge fields."""
    def text(field: str, x: float, y: float, w: float, h: float, size: float, bold: bool = False,
             justify: str = "Left") -> str:
        weight = "Bold" if bold else "Regular"
        return (f'<Object-text x="{x}mm" y="{y}mm" w="{w}mm" h="{h}mm" justify="{justify}" valign="Top" '
                f'auto_shrink="True" a0="1" a1="0" a2="0" a3="1" a4="0" a5="0"><Span color="0x000000ff" '
                f'font_family="Noto Sans CJK SC" font_size="{size}" font_weight="{weight}" font_italic="False" '
                f'line_spacing="1"><Field name="{field}"/></Span></Object-text>')

    objects = "\n".join([
        text("village", 3, 1.7, 32, 6.6, 12.5, True), text("number", 34, 1.3, 26.5, 7.2, 15.5, True, "Right"),
        '<Object-line x="3mm" y="8.9mm" dx="57.5mm" dy="0mm" line_width="0.6pt" line_color="0x000000ff" '
        'a0="1" a1="0" a2="0" a3="1" a4="0" a5="0"/>',
        text("caption", 3, 10.4, 7, 4, 6.5), text("head", 9.2, 9.3, 51.3, 6.4, 13.5, True),
        text("members", 3, 15.9, 57.5, 5.4, 5.8),
        '<Object-barcode x="3mm" y="21.7mm" w="57.5mm" h="7mm" backend="gnu-barcode" style="Code128" text="False" '
        'checksum="True" field="code" color="0x000000ff" a0="1" a1="0" a2="0" a3="1" a4="0" a5="0"/>',
        text("display", 3, 28.9, 57.5, 4.2, 9.5, True, "Center"),
    ])
    return f"""<?xml version="1.0"?>
<Glabels-document xmlns="http://glabels.org/xmlns/3.0/">
  <Template brand="archiveprint" part="{stock.id}" size="A4" description="{escape(stock.name)}">
    <Meta category="label"/>
    <Label-rectangle id="0" width="{stock.label_width}mm" height="{stock.label_height}mm"
        round="{stock.corner_radius}mm" x_waste="0mm" y_waste="0mm">
      <Markup-margin size="1.5mm"/>
      <Layout nx="{stock.columns}" ny="{stock.rows}" x0="{stock.left}mm" y0="{stock.top}mm"
          dx="{stock.pitch_x}mm" dy="{stock.pitch_y}mm"/>
    </Label-rectangle>
  </Template>
  <Objects id="0" rotate="False">
{objects}
  </Objects>
  <Merge type="Text/Comma/Line1Keys" src="{escape(str(csv_path))}"/>
  <Data/>
</Glabels-document>
"""


def child_glabels(count: int, stock_id: str, out: Path) -> dict:
    batch = shutil.which("glabels-3-batch")
    if not batch:
        return {"skipped": "gLabels is not installed (apt-get install glabels)"}
    from archiveprint.labels.services import label_stocks

    stock = label_stocks()[stock_id]
    work = out.parent
    data = work / "labels.csv"
    with data.open("w", encoding="utf-8", newline="") as fp:
        writer = csv.writer(fp)
        writer.writerow(["village", "number", "caption", "head", "members", "code", "display"])
        for item in households(count):
            members = "  ".join(f"{name} {code}" for name, code in item["members"][:6])
            writer.writerow([item["village_name"], item["household_no_text"], "户主", item["head_name"], members,
                             item["folder_code"], item["folder_code_display"]])
    document = work / "folder.glabels"
    document.write_bytes(gzip.compress(glabels_document(stock, data).encode()))
    command = [batch, "-i", str(data), "-o", str(out), str(document)]
    note = "headless"
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
    if (done.returncode != 0 or not out.exists()) and shutil.which("xvfb-run"):
        note = f"headless run failed ({done.returncode}: {done.stderr.strip()[-200:]}), retried under xvfb-run"
        start = time.perf_counter()
        done = subprocess.run(["xvfb-run", "-a", *command], capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - start
    if done.returncode != 0 or not out.exists():
        return {"skipped": f"glabels-3-batch failed ({done.returncode}): {done.stderr.strip()[-300:]}"}
    import pypdf

    child_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"labels": count, "pages": len(pypdf.PdfReader(out).pages), "seconds": seconds,
            "bytes": out.stat().st_size, "child_peak_rss_mib": round(child_peak, 1), "note": note}


def decoded_on_first_sheet(path: Path, expected: list[str]) -> str:
    """How many of the first sheet's folder codes a decoder reads back from a 300 dpi raster."""
    import pypdfium2
    import zxingcpp

    pdf = pypdfium2.PdfDocument(str(path))
    image = pdf[0].render(scale=300 / 72, grayscale=True).to_pil()
    pdf.close()
    found = {result.text for result in zxingcpp.read_barcodes(image)}
    return f"{len(found & set(expected))}/{len(expected)}"


def run_child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=10_000)
    parser.add_argument("--stock", default="a4-3x8")
    parser.add_argument("--skip-glabels", action="store_true")
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        kind, count, stock, out = args.child
        result = {"engine": child_engine, "reportlab": child_reportlab, "glabels": child_glabels}[kind](
            int(count), stock, Path(out))
        result["peak_rss_mib"] = round(peak_rss_mib(), 1)
        print(json.dumps(result))
        return

    from archiveprint.labels.services import label_stocks

    per_page = label_stocks()[args.stock].per_page
    first_sheet = [item["folder_code"] for item in households(args.labels)[:per_page]]
    rows: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("engine", "reportlab", "glabels"):
            if kind == "glabels" and args.skip_glabels:
                continue
            folder = Path(tmp) / kind
            folder.mkdir()
            out = folder / "labels.pdf"
            rows[kind] = run_child([kind, str(args.labels), args.stock, str(out)])
            if "skipped" not in rows[kind]:
                rows[kind]["decoded"] = decoded_on_first_sheet(out, first_sheet)

    base = rows["engine"]
    base_rate = base["labels"] / base["seconds"]
    print(f"labels benchmark — {args.labels:,} household folder labels on {args.stock}, {os.cpu_count()} cores\n")
    print(f"{'case':10} {'labels':>7} {'pages':>6} {'seconds':>8} {'labels/s':>9} {'MB':>6} {'peak RSS MiB':>13} "
          f"{'vs engine':>10} {'sheet 1 decoded':>16}")
    for name, row in rows.items():
        if "skipped" in row:
            print(f"{name:10} skipped: {row['skipped']}")
            continue
        rate = row["labels"] / row["seconds"]
        rss = row.get("child_peak_rss_mib", row["peak_rss_mib"])
        print(f"{name:10} {row['labels']:>7} {row['pages']:>6} {row['seconds']:>8.2f} {rate:>9.0f} "
              f"{row['bytes'] / 1e6:>6.1f} {rss:>13.1f} {rate / base_rate:>9.3f}× {row['decoded']:>16}")
    for name, row in rows.items():
        if row.get("note"):
            print(f"\n{name}: {row['note']}")
    if base.get("module_mm"):
        print(f"\nengine barcode module: {base['module_mm']} mm (whole dots at 300 dpi)")


if __name__ == "__main__":
    main()
