"""回收归档 benchmark: a 500-page scanned stack at 200 dpi grey read back into its folders — archiveprint's intake
next to zbar decoding the same pages, on 2 cores, with peak memory for stacks of two sizes.

Run from the checkout:  .venv/bin/python bench/intake_bench.py  [--pages 500] [--dpi 200] [--json results.json]

A synthetic township (demo.generate, seed 2026, two villages) is loaded into a fresh SQLite file; its residents'
高血压 follow-up sheets and 健康体检表 are printed prefilled by the print centre (print_forms), then scanned as an
office MFP would give them back (tests/intake/scanner.py: grey, written on, blurred, sensor noise, skewed ±3°, 30 %
fed upside down, a quarter with an empty duplex back, shuffled) and written as one image-only PDF (JPEG pages).
Cases, each in its own process (its own peak RSS, VmHWM):
  intake       archiveprint.intake.report.intake_files: every page drawn by pdfium at the scan's resolution, blank backs
               dropped, marks decoded by zxing-cpp (2 threads), checked, resolved in the register, written as a batch
               with an event per filed page — the whole of what `archiveprint intake` does;
  intake half  the same for the first half of the stack: memory must not grow with the stack's size;
  zxing only   the same pages taken the same way and read by decode.read_page (ink, then zxing-cpp on the margin
               strips, then the whole page), 2 threads, nothing else: the reading's share;
  zbar         the same pages taken the same way and decoded by zbar (pyzbar; apt-get install libzbar0 and
               pip install pyzbar), Code128 only, given the same chances (bottom strip, top strip, whole page),
               2 threads — the peer. Skipped, with the install command, when missing.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TODAY = date(2026, 12, 9)
ZBAR_INSTALL = "apt-get install -y libzbar0 && .venv/bin/pip install pyzbar   # or: pip install -e '.[bench]'"


def peak_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def build(work: Path, pages: int, dpi: int) -> dict[str, object]:
    """The register (SQLite) and the scanned stack; returns what was made."""
    import pypdf

    from archiveprint import models  # noqa: F401
    from archiveprint.db import Database
    from archiveprint.forms.layout import use_cache_dir
    from archiveprint.forms.services import Scope, print_forms
    from archiveprint.migrate import upgrade
    from archiveprint.register import demo
    from archiveprint.register.models import Resident
    from archiveprint.register.queries import select_for_print
    from tests.intake.scanner import Scanner, Truth, scan

    use_cache_dir(work / "cache")
    database = Database.connect(f"sqlite:///{work / 'register.sqlite3'}")
    upgrade(database.engine)
    town = demo.generate(seed=2026, villages=2, households_per_village=max(40, pages // 5), today=TODAY)
    with database.transaction() as session:
        demo.load(session, town, actor="bench")
    with database.reader() as session:
        codes = tuple(session.scalars(select_for_print().with_only_columns(Resident.archive_code)))
        wanted = max(1, int(pages / 1.25 / 2))  # about 2 sheets a resident, a quarter of them with a blank back
        print_forms(session, "hypertension_followup", Scope(codes=codes[:wanted]), work / "followup.pdf", kind="form",
                    today=TODAY)
        print_forms(session, "health_check", Scope(codes=codes[: max(1, wanted // 4)]), work / "check.pdf",
                    kind="form", today=TODAY)
    database.dispose()
    printed = [(work / "followup.pdf", [Truth("marked")] * len(pypdf.PdfReader(work / "followup.pdf").pages)),
               (work / "check.pdf", [Truth("marked")] * len(pypdf.PdfReader(work / "check.pdf").pages))]
    scanner = Scanner(dpi=dpi, mode="grey", seed=2026, noise=5.0, blank_backs=0.25)
    started = time.perf_counter()
    writer = pypdf.PdfWriter()
    made = blanks = 0
    chunk_files = []
    # scanned in chunks of printed pages, each chunk written as its own image PDF, then joined: memory stays small
    for source, truths in printed:
        reader = pypdf.PdfReader(source)
        for start in range(0, len(truths), 40):
            part = pypdf.PdfWriter()
            for index in range(start, min(start + 40, len(truths))):
                part.add_page(reader.pages[index])
            part_path = work / f"printed-{len(chunk_files)}.pdf"
            part.write(part_path)
            scanned = scan([(part_path, truths[start:start + 40])], scanner)
            images = [image for image, _truth in scanned]
            blanks += sum(1 for _image, truth in scanned if truth.kind == "blank")
            chunk = work / f"scanned-{len(chunk_files)}.pdf"
            images[0].save(chunk, "PDF", save_all=True, append_images=images[1:], resolution=float(dpi), quality=75)
            chunk_files.append(chunk)
            made += len(images)
            if made >= pages:
                break
        if made >= pages:
            break
    for chunk in chunk_files:
        writer.append(str(chunk))
    stack = work / "stack.pdf"
    total = min(made, pages)
    while len(writer.pages) > total:
        writer.remove_page(len(writer.pages) - 1)
    writer.write(stack)
    half = pypdf.PdfWriter()
    for index in range(total // 2):
        half.add_page(writer.pages[index])
    half.write(work / "half.pdf")
    return {"residents": len(codes), "pages": total, "blank_backs": blanks, "stack_mib": round(stack.stat().st_size
                                                                                              / 2**20, 1),
            "scan_s": round(time.perf_counter() - started, 1)}


def run_case(name: str, work: Path) -> dict[str, object]:
    done = subprocess.run([sys.executable, __file__, "--case", name, "--work", str(work)], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"case {name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def case(name: str, work: Path) -> dict[str, object]:
    from archiveprint import models  # noqa: F401
    from archiveprint.config import IntakeLimits
    from archiveprint.db import Database

    if name in ("intake", "intake_half"):
        from archiveprint.intake.report import intake_files

        copy = work / f"{name}.sqlite3"
        shutil.copy(work / "register.sqlite3", copy)
        database = Database.connect(f"sqlite:///{copy}")
        stack = work / ("stack.pdf" if name == "intake" else "half.pdf")
        started = time.perf_counter()
        report = intake_files(database, [(stack, stack.name)], instance_dir=work / "instance", limits=IntakeLimits(),
                              received_on=TODAY, actor="bench")
        seconds = time.perf_counter() - started
        return {"pages": len(report.items), "seconds": round(seconds, 2),
                "pages_per_s": round(len(report.items) / seconds, 1), "filed": report.count("filed"),
                "blank": report.count("blank"), "unreadable": report.count("unreadable"),
                "duplicates": report.count("duplicate"), "peak_mib": round(peak_rss_mib())}
    return decode_only(name, work / "stack.pdf")


def decode_only(name: str, stack: Path) -> dict[str, object]:
    """Draw every page as intake does (one thread, pdfium) and decode it in 2 threads with zxing-cpp or zbar."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from archiveprint.config import IntakeLimits
    from archiveprint.intake.decode import STRIP, parse_mark, read_page
    from archiveprint.intake.sources import inspect_files, iter_pages

    if name == "zbar":
        from pyzbar import pyzbar  # needs libzbar0

        def decode(image):  # type: ignore[no-untyped-def]
            """zbar given the same chances: the bottom strip, the top strip, the whole page (it reads any angle)."""
            strip = round(image.height * STRIP)
            for part in (image.crop((0, image.height - strip, image.width, image.height)),
                         image.crop((0, 0, image.width, strip)), image):
                texts = [found.data.decode("ascii", "replace")
                         for found in pyzbar.decode(part, symbols=[pyzbar.ZBarSymbol.CODE128])]
                if any(parse_mark(text) for text in texts):
                    return texts
            return []
    else:
        def decode(image):  # type: ignore[no-untyped-def]
            return [mark.text for mark in read_page(image, 200.0).marks]

    marks = pages = 0
    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        pending: deque = deque()

        def settle() -> None:
            nonlocal marks
            if any(parse_mark(text) for text in pending.popleft().result()):
                marks += 1

        for picture in iter_pages(inspect_files([(stack, stack.name)], IntakeLimits())):
            pages += 1
            pending.append(pool.submit(lambda p: decode(p.load()), picture))
            while len(pending) > 4:
                settle()
        while pending:
            settle()
    seconds = time.perf_counter() - started
    return {"pages": pages, "seconds": round(seconds, 2), "pages_per_s": round(pages / seconds, 1),
            "pages_with_a_mark": marks, "peak_mib": round(peak_rss_mib())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--dpi", type=int, default=200)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--case")
    parser.add_argument("--work", type=Path)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.work)))
        return
    with tempfile.TemporaryDirectory(prefix="intake-bench-") as folder:
        work = Path(folder)
        made = build(work, args.pages, args.dpi)
        print(f"stack: {made['pages']} pages at {args.dpi} dpi grey ({made['blank_backs']} blank backs), "
              f"{made['stack_mib']} MiB; {made['residents']} residents; scanned in {made['scan_s']} s")
        results: dict[str, object] = {"stack": made}
        for name in ("intake", "intake_half", "zxing", "zbar"):
            if name == "zbar":
                try:
                    from pyzbar import pyzbar  # noqa: F401
                except (ImportError, OSError):
                    print(f"zbar         skipped: {ZBAR_INSTALL}")
                    results[name] = {"skipped": ZBAR_INSTALL}
                    continue
            result = run_case(name, work)
            results[name] = result
            print(f"{name:<12} {json.dumps(result, ensure_ascii=False)}")
        if args.json:
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
