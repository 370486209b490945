"""Forms benchmark: 1,000 residents' 新建档套表, stamped (our engine) vs naive WeasyPrint vs LibreOffice headless.

Run from the checkout:  .venv/bin/python bench/forms_bench.py  [--residents 1000] [--sample 40] [--big-pages 100000]

Every case runs in its own subprocess so its peak RSS (VmHWM) is its own, and all three render the same form set
for the same synthetic residents:
  engine       archiveprint's print path: blank pages laid out once, values stamped, one streaming PDF;
               run once on one core and once as two processes (the machine has 2 cores) on half the residents each,
               both reading the blank layouts from one shared cache folder laid out beforehand (as print jobs and
               RQ workers do since #14: before, each process laid every form out itself, about a second a page, and
               two processes were slower than one), both timed from the start of their work to its end;
  weasyprint   the naive path: each resident's filled HTML laid out and written as its own PDF by WeasyPrint;
  libreoffice  the mail-merge path clerks use today: the same filled documents converted by `soffice --headless`
               in one batch (needs Debian's libreoffice-writer-nogui; skipped if absent).
The two slow paths run on `--sample` residents and are reported per page. A last case stamps `--big-pages` pages
into one file to show that memory stays flat with job size.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TODAY = date(2026, 11, 25)
SET = "new_record"


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def people(count: int) -> list[dict]:
    """Plain person values for `count` synthetic residents (the demo generator, no database needed)."""
    from archiveprint.register import demo

    township = demo.generate(seed=2026, villages=10, households_per_village=count // 20 + 2, today=TODAY)
    out: list[dict] = []
    for household in township.households:
        for person in household.members:
            out.append({
                "name": person.name, "code17": person.archive_code, "code8": person.archive_code[-8:],
                "sex": person.sex, "sex_text": "男" if person.sex == "1" else "女", "birth_date": person.birth_date,
                "id_number": person.id_number, "phone": person.phone, "address": household.address,
                "township": township.township_name, "village": household.village_code, "unit": township.unit_name,
                "registered_on": person.registered_on, "household_head": household.head_name, "age": "",
            })
            if len(out) == count:
                return out
    return out


def use_layout_cache() -> None:
    """The blank layouts from the cache folder the run shares (BENCH_LAYOUT_CACHE), as every print job has them."""
    from archiveprint.forms.layout import use_cache_dir

    if os.environ.get("BENCH_LAYOUT_CACHE"):
        use_cache_dir(Path(os.environ["BENCH_LAYOUT_CACHE"]))


def child_warm() -> dict:
    """Lay the set's forms out into the shared cache once, as a site's first print does."""
    from archiveprint.forms.catalog import load_catalog
    from archiveprint.forms.layout import engine, layout_form

    use_layout_cache()
    catalog = load_catalog()
    start = time.perf_counter()
    for form_id in catalog.form_set(SET).forms:
        layout_form(catalog.form(form_id))
    return {"pages": 0, "seconds": time.perf_counter() - start, "bytes": 0, "laid_out": engine().laid_out}


def child_engine(count: int, shard: int, shards: int, out: Path) -> dict:
    from archiveprint.forms.catalog import load_catalog
    from archiveprint.forms.context import slot_values
    from archiveprint.forms.layout import engine
    from archiveprint.forms.printer import FormPrinter

    use_layout_cache()
    catalog = load_catalog()
    forms = [catalog.form(f) for f in catalog.form_set(SET).forms]
    residents = people(count)[shard::shards]
    began = time.time()
    start = time.perf_counter()
    with out.open("wb") as fp:
        printer = FormPrinter(fp)
        sheets: dict[str, list] = {}
        for person in residents:
            for form in forms:
                values = slot_values(form, person)
                if form.per_page > 1:
                    sheets.setdefault(form.id, []).append(values)
                    if len(sheets[form.id]) == form.per_page:
                        printer.add_sheet(form, sheets.pop(form.id))
                else:
                    printer.add_form(form, values, code17=person["code17"])
        for form_id, rest in sheets.items():
            printer.add_sheet(catalog.form(form_id), rest)
        printer.close(title=SET)
    seconds = time.perf_counter() - start
    return {"pages": printer.page_count, "seconds": seconds, "bytes": out.stat().st_size, "began": began,
            "ended": began + seconds, "laid_out": engine().laid_out}


def filled_html(count: int) -> list[tuple[str, str]]:
    from archiveprint.forms.catalog import load_catalog
    from archiveprint.forms.context import slot_values
    from archiveprint.forms.render import render_html

    catalog = load_catalog()
    forms = [catalog.form(f) for f in catalog.form_set(SET).forms if catalog.form(f).per_page == 1]
    docs = []
    for n, person in enumerate(people(count)):
        for form in forms:
            docs.append((f"{n:04d}-{form.id}", render_html(form, slot_values(form, person))))
    return docs


def child_weasyprint(count: int, out: Path) -> dict:
    from archiveprint.pdf.weasy import render

    docs = filled_html(count)
    start = time.perf_counter()
    pages = size = 0
    for name, html in docs:
        document = render(html)
        pdf = document.write_pdf()
        pages += len(document.pages)
        size += len(pdf)
        (out / f"{name}.pdf").write_bytes(pdf)
    return {"pages": pages, "seconds": time.perf_counter() - start, "bytes": size}


def child_libreoffice(count: int, out: Path) -> dict:
    import pypdf

    from archiveprint.pdf.fonts import font_face_css
    from archiveprint.resources import template_dir

    soffice = shutil.which("soffice")
    if not soffice:
        return {"skipped": "LibreOffice is not installed (apt-get install libreoffice-writer-nogui)"}
    css = (template_dir() / "print" / "forms.css").read_text() + font_face_css()
    sources = out / "src"
    sources.mkdir()
    for name, html in filled_html(count):
        (sources / f"{name}.html").write_text(html.replace('<link rel="stylesheet" href="print/forms.css">',
                                                           f"<style>{css}</style>"), encoding="utf-8")
    profile = out / "profile"
    start = time.perf_counter()
    subprocess.run([soffice, f"-env:UserInstallation=file://{profile}", "--headless", "--convert-to",
                    "pdf:writer_web_pdf_Export", "--outdir", str(out), *map(str, sorted(sources.glob("*.html")))],
                   check=True, capture_output=True)
    seconds = time.perf_counter() - start
    pdfs = sorted(out.glob("*.pdf"))
    return {"pages": sum(len(pypdf.PdfReader(p).pages) for p in pdfs), "seconds": seconds,
            "bytes": sum(p.stat().st_size for p in pdfs)}


def child_big(pages: int, out: Path) -> dict:
    from archiveprint.forms.catalog import load_catalog
    from archiveprint.forms.context import slot_values
    from archiveprint.forms.printer import FormPrinter

    form = load_catalog().form("personal_info")
    crowd = people(500)
    start = time.perf_counter()
    with out.open("wb") as fp:
        printer = FormPrinter(fp)
        for n in range(pages):
            person = crowd[n % len(crowd)]
            printer.add_form(form, slot_values(form, person), code17=person["code17"])
        printer.close()
    return {"pages": pages, "seconds": time.perf_counter() - start, "bytes": out.stat().st_size}


def run_child(args: list[str]) -> dict:
    done = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--residents", type=int, default=1000)
    parser.add_argument("--sample", type=int, default=40)
    parser.add_argument("--big-pages", type=int, default=100_000)
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        out = Path(rest[-1])
        result = {"warm": child_warm,
                  "engine": lambda: child_engine(int(rest[0]), int(rest[1]), int(rest[2]), out),
                  "weasyprint": lambda: child_weasyprint(int(rest[0]), out),
                  "libreoffice": lambda: child_libreoffice(int(rest[0]), out),
                  "big": lambda: child_big(int(rest[0]), out)}[kind]()
        result["peak_rss_mib"] = round(peak_rss_mib(), 1)
        print(json.dumps(result))
        return

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        os.environ["BENCH_LAYOUT_CACHE"] = str(tmp_path / "cache" / "layouts")  # the children's shared cache
        warm = run_child(["warm", str(tmp_path / "warm")])
        print(f"blank layouts laid out once into the shared cache: {warm['laid_out']} forms, "
              f"{warm['seconds']:.1f} s", file=sys.stderr)
        rows = {}
        rows["engine, 1 process"] = run_child(["engine", str(args.residents), "0", "1", str(tmp_path / "one.pdf")])
        # Both processes start their work at about the same time; the case's time runs from the first one's start
        # to the last one's end (the 1-process case times its work alone the same way: no process start, no
        # synthetic data; both read the blank layouts from the shared cache, as print jobs do).
        halves = [subprocess.Popen([sys.executable, __file__, "--child", "engine", str(args.residents), str(i), "2",
                                    str(tmp_path / f"half{i}.pdf")], stdout=subprocess.PIPE, text=True)
                  for i in range(2)]
        parts = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in halves]
        rows["engine, 2 processes"] = {"pages": sum(p["pages"] for p in parts),
                                       "seconds": max(p["ended"] for p in parts) - min(p["began"] for p in parts),
                                       "bytes": sum(p["bytes"] for p in parts),
                                       "peak_rss_mib": max(p["peak_rss_mib"] for p in parts),
                                       "laid_out": sum(p["laid_out"] for p in parts)}
        print("two processes, each: " + "; ".join(
            f"{p['pages']} pages in {p['seconds']:.2f} s, began +{p['began'] - min(q['began'] for q in parts):.2f} s"
            for p in parts), file=sys.stderr)
        for kind in ("weasyprint", "libreoffice") if args.sample else ():
            folder = tmp_path / kind
            folder.mkdir()
            rows[f"{kind} (sample of {args.sample})"] = run_child([kind, str(args.sample), str(folder)])
        if args.big_pages:
            rows[f"engine, {args.big_pages:,} pages in one file"] = run_child(
                ["big", str(args.big_pages), str(tmp_path / "big.pdf")])

    base = rows["engine, 1 process"]
    base_rate = base["pages"] / base["seconds"]
    print(f"forms benchmark — set {SET}, {args.residents} residents, {os.cpu_count()} cores\n")
    print(f"{'case':38} {'pages':>8} {'seconds':>9} {'pages/s':>9} {'KB/page':>8} {'peak RSS MiB':>13} "
          f"{'vs engine':>10}")
    for name, row in rows.items():
        if "skipped" in row:
            print(f"{name:38} skipped: {row['skipped']}")
            continue
        rate = row["pages"] / row["seconds"]
        print(f"{name:38} {row['pages']:>8} {row['seconds']:>9.2f} {rate:>9.1f} "
              f"{row['bytes'] / row['pages'] / 1024:>8.1f} {row['peak_rss_mib']:>13.1f} {rate / base_rate:>9.3f}×")


if __name__ == "__main__":
    main()
