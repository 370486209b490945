"""First print preview in a fresh process: no disk cache (every start lays out), a cold disk cache, a warm one.

Run from the checkout:  .venv/bin/python bench/preview_bench.py  [--set new_record] [--runs 3]

Each case starts new Python processes (as a restarted server or a second worker does) and times, inside each, the
first and then the second preview of one set: the blank set drawn (preview_pdf) and its pages rasterised (thumbnails),
what the print centre's 预览 does. Cases:
  memory-only  no cache folder: the layouts live in the process only (how it was before #10.17);
  disk, cold   an empty cache folder: the first process lays the forms out and writes them;
  disk, warm   the folder the cold run left: a new process reads the layouts and never calls WeasyPrint;
  warm + serve the same, after the warm-up `archiveprint serve` runs in a thread at start (forms.preview.warm_up):
               the font subsetter and rasteriser have run once, so the first preview is a second one.
The peer is the second preview in the same process (layouts already in memory): `first / second` says how close the
first preview after a restart gets to it. The median of `--runs` processes is shown per case.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(set_id: str, cache: str, warm: bool = False) -> dict[str, float]:
    """One fresh process: time the first and second preview of the set (imports of our own modules excluded)."""
    from archiveprint.forms.catalog import load_catalog
    from archiveprint.forms.layout import engine, use_cache_dir
    from archiveprint.forms.preview import preview_pdf, thumbnails, warm_up

    use_cache_dir(Path(cache) if cache else None)
    form_set = load_catalog().form_set(set_id)
    if warm:
        warm_up()
    before = engine().laid_out  # the warm-up's own layouts (the forms outside this set) are not the preview's
    times = []
    for _ in range(2):
        started = time.perf_counter()
        thumbnails(preview_pdf(form_set, None))
        times.append(time.perf_counter() - started)
    return {"first": times[0], "second": times[1], "laid_out": engine().laid_out - before}


def run_child(set_id: str, cache: str, warm: bool = False) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", set_id, cache, "1" if warm else ""], check=True,
                          capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="new_record")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=3, metavar=("SET", "CACHE", "WARM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        set_id, cache, warm = args.child
        print(json.dumps(child(set_id, cache, bool(warm))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cases: dict[str, list[dict[str, float]]] = {"memory-only": [], "disk, cold": [], "disk, warm": [],
                                                    "warm + serve": []}
        for run in range(args.runs):
            cases["memory-only"].append(run_child(args.set, ""))
            cold = str(Path(tmp) / f"run{run}" / "layouts")  # font metrics go beside it, in run<n>/fonts
            cases["disk, cold"].append(run_child(args.set, cold))
            cases["disk, warm"].append(run_child(args.set, cold))
            cases["warm + serve"].append(run_child(args.set, cold, warm=True))
        rows = {name: {key: statistics.median(r[key] for r in results) for key in ("first", "second", "laid_out")}
                for name, results in cases.items()}
    before = rows["memory-only"]["first"]
    print(f"set {args.set}, median of {args.runs} fresh processes per case")
    print(f"{'case':<14}{'layouts':>8}{'first s':>10}{'second s':>10}{'first/second':>14}{'vs memory-only':>16}")
    for name, row in rows.items():
        print(f"{name:<14}{row['laid_out']:>8.0f}{row['first']:>10.3f}{row['second']:>10.3f}"
              f"{row['first'] / row['second']:>13.2f}×{before / row['first']:>15.1f}×")


if __name__ == "__main__":
    main()
