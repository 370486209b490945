"""Monthly packet benchmark: 本月随访包 for a 30,000-resident township (every village, one month).

Run from the checkout:  .venv/bin/python bench/due_bench.py  [--residents 30000] [--month 2026-12] [--url URL]

A synthetic township (demo.generate, seed 2026) is loaded into a fresh SQLite file (or the database `--url` names),
its 孕产妇 given 预产期 and its 肺结核 patients a treatment start, then:
  find_due       who is due in the month, all villages (the query and schedule arithmetic alone);
  packet cold    print_packet in a new process with an empty layout cache (each due form laid out once);
  packet warm    the same in a new process with the layout cache the cold run filled (what a site sees daily);
  forms peer     print_forms of 新建档套表 for as many residents as the packet has due, same process kind — the
                 existing forms figure, measured in the same run, as pages/s to compare;
  pick list peer the packet's pick list drawn by WeasyPrint (locations/picklist.py, the 调档单 page) instead of the
                 stamp engine's table, same rows.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TODAY = date(2026, 12, 7)


def build(url: str, residents: int) -> dict[str, object]:
    from sqlalchemy import func, select

    from archiveprint import models  # noqa: F401
    from archiveprint.db import Database
    from archiveprint.migrate import upgrade
    from archiveprint.register import demo
    from archiveprint.register.models import Resident

    database = Database.connect(url)
    upgrade(database.engine)
    per_village = residents // 20 // 3 + 1
    town = demo.generate(seed=2026, villages=20, households_per_village=per_village, today=TODAY)
    started = time.perf_counter()
    with database.transaction() as session:
        demo.load(session, town, actor="bench")
        rng = random.Random(7)
        for resident in session.scalars(select(Resident)):
            if "孕产妇" in resident.tag_names:
                resident.due_date = TODAY + timedelta(days=rng.randrange(-60, 250))
            if "肺结核" in resident.tag_names:
                resident.tb_treatment_start = TODAY - timedelta(days=rng.randrange(0, 180))
        count = session.scalar(select(func.count(Resident.id)))
    database.engine.dispose()
    return {"residents": count, "load_s": round(time.perf_counter() - started, 1)}


def run_case(case: str, url: str, month: str, cache: str, out: str) -> dict[str, object]:
    """One case in a fresh process (its own layout work, its own peak memory)."""
    done = subprocess.run([sys.executable, __file__, "--case", case, "--url", url, "--month", month,
                           "--cache", cache, "--out", out], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def case(name: str, url: str, month: str, cache: str, out: str) -> dict[str, object]:
    import pypdf

    from archiveprint import models  # noqa: F401
    from archiveprint.db import Database
    from archiveprint.due.packet import picklist_table, print_packet
    from archiveprint.due.queries import find_due
    from archiveprint.forms.layout import use_cache_dir
    from archiveprint.forms.printer import FormPrinter
    from archiveprint.forms.services import PrintOptions, Scope, print_forms
    from archiveprint.locations.picklist import render_picklist_pdf
    from archiveprint.locations.queries import find_picklist

    use_cache_dir(Path(cache))
    first = date.fromisoformat(month + "-01")
    database = Database.connect(url)
    with database.reader() as session:
        started = time.perf_counter()
        if name == "find_due":
            due = find_due(session, first)
            return {"seconds": time.perf_counter() - started, "residents": due.residents, "visits": len(due.items)}
        if name == "packet":
            result = print_packet(session, first, Path(out) / "packet.pdf", villages=None, villages_text="全部村",
                                  today=TODAY)
            return {"seconds": result.seconds, "pages": result.pages, "forms": result.forms,
                    "residents": result.due.residents, "visits": len(result.due.items),
                    "picklist_pages": len(pypdf.PdfReader(result.outputs[1]).pages)}
        due = find_due(session, first)
        codes = tuple(dict.fromkeys(item.archive_code for item in due.items))
        if name == "forms":
            result = print_forms(session, "new_record", Scope(codes=codes), Path(out) / "forms.pdf", kind="set",
                                 options=PrintOptions(allow_missing_glyphs=True), today=TODAY)
            return {"seconds": result.seconds, "pages": result.pages, "residents": result.residents}
        if name == "picklist_weasy":
            picks = find_picklist(session, list(codes))
            started = time.perf_counter()
            pdf = render_picklist_pdf(picks, day=TODAY, unit="柏棠镇卫生院")
            seconds = time.perf_counter() - started
            (Path(out) / "picklist-weasy.pdf").write_bytes(pdf)
            return {"seconds": seconds, "rows": len(picks.rows),
                    "pages": len(pypdf.PdfReader(Path(out) / "picklist-weasy.pdf").pages)}
        if name == "picklist_table":
            picks = find_picklist(session, list(codes))
            started = time.perf_counter()
            with (Path(out) / "picklist-table.pdf").open("wb") as fp:
                printer = FormPrinter(fp)
                pages = printer.add_table(picklist_table(picks, month=first, unit="柏棠镇卫生院", villages="全部村"))
                printer.close()
            return {"seconds": time.perf_counter() - started, "rows": len(picks.rows), "pages": pages}
    raise SystemExit(f"unknown case {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--residents", type=int, default=30000)
    parser.add_argument("--month", default="2026-12")
    parser.add_argument("--url")
    parser.add_argument("--case")
    parser.add_argument("--cache")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.url, args.month, args.cache, args.out)))
        return
    work = Path(tempfile.mkdtemp(prefix="due-bench-"))
    url = args.url or f"sqlite:///{work / 'bench.sqlite3'}"
    os.environ["ARCHIVEPRINT_INSTANCE"] = str(work / "instance")
    built = build(url, args.residents)
    print(f"township: {built['residents']:,} residents (loaded in {built['load_s']} s), month {args.month}")
    cache = str(work / "layout-cache")  # empty for the cold run, which fills it for every later case
    results = {"find_due": run_case("find_due", url, args.month, cache, str(work))}
    results["packet cold"] = run_case("packet", url, args.month, cache, str(work))
    results["packet warm"] = run_case("packet", url, args.month, cache, str(work))
    results["forms peer (新建档套表)"] = run_case("forms", url, args.month, cache, str(work))
    results["pick list, table"] = run_case("picklist_table", url, args.month, cache, str(work))
    results["pick list, WeasyPrint peer"] = run_case("picklist_weasy", url, args.month, cache, str(work))
    print(f"{'case':30} {'seconds':>8} {'pages':>7} {'pages/s':>8}  notes")
    for name, row in results.items():
        pages = row.get("pages")
        rate = f"{pages / row['seconds']:.1f}" if pages else ""
        notes = ", ".join(f"{k} {v}" for k, v in row.items() if k not in ("seconds", "pages"))
        print(f"{name:30} {row['seconds']:8.2f} {pages or '':>7} {rate:>8}  {notes}")
    warm_rate = results["packet warm"]["pages"] / results["packet warm"]["seconds"]
    forms_rate = results["forms peer (新建档套表)"]["pages"] / results["forms peer (新建档套表)"]["seconds"]
    table, weasy = results["pick list, table"], results["pick list, WeasyPrint peer"]
    print(f"packet warm ÷ forms peer (pages/s): {warm_rate / forms_rate:.2f}×;  "
          f"pick list table vs WeasyPrint: {weasy['seconds'] / table['seconds']:.0f}× faster")


if __name__ == "__main__":
    main()
