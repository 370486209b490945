"""#15: real scanned stacks of our own printed forms (150–300 dpi, grey and 1-bit, upside down, skewed, noisy, blurred,
blank backs, shuffled; image-only PDF and TIFF) read back page by page and checked against the truth of every page:
at 200 dpi and up every marked page is filed to the right resident, form and page; at any resolution none is filed
to a wrong one (a page that cannot be read safely waits for the clerk)."""

from __future__ import annotations

from pathlib import Path

import pytest

from archiveprint.config import IntakeLimits
from archiveprint.db import Database
from archiveprint.forms.catalog import load_catalog
from archiveprint.intake.report import intake_files
from tests.conftest import ACTOR, TODAY
from tests.intake.conftest import Printed
from tests.intake.scanner import Scanner, save_pdf, save_tiff, scan

CASES = [  # (dpi, colour mode, container)
    (200, "grey", "pdf"), (300, "bw", "pdf"), (200, "bw", "tiff"), (300, "grey", "tiff"), (150, "grey", "pdf"),
    (150, "bw", "tiff"),
]


@pytest.mark.parametrize(("dpi", "mode", "container"), CASES, ids=[f"{d}dpi-{m}-{c}" for d, m, c in CASES])
def test_every_page_of_a_scanned_stack_goes_where_its_truth_says(committed_db: Database, printed: Printed,
                                                                  tmp_path: Path, dpi: int, mode: str,
                                                                  container: str) -> None:
    scanned = scan(printed.pdfs, Scanner(dpi=dpi, mode=mode, seed=dpi * 7 + len(mode)))
    images = [image for image, _truth in scanned]
    path = (save_pdf if container == "pdf" else save_tiff)(images, tmp_path / f"stack.{container}", dpi)
    report = intake_files(committed_db, [(path, path.name)], instance_dir=tmp_path / "instance",
                          limits=IntakeLimits(), received_on=TODAY, actor=ACTOR)
    numbers = {form.id: form.number for form in load_catalog().forms.values()}

    assert [(item.file, item.page) for item in report.items] == [(path.name, n) for n in range(1, len(scanned) + 1)]
    wrong, missed = [], []
    for item, (_image, truth) in zip(report.items, scanned, strict=True):
        where = f"page {item.page}: {item.outcome} {item.archive_code} {item.form} {item.form_page} ≠ {truth}"
        if item.outcome == "filed":
            read = (item.archive_code, numbers.get(item.form or ""), item.form_page)
            if truth.kind != "marked" or read != (truth.archive_code, truth.form_number, truth.form_page):
                wrong.append(where)
        if truth.kind == "blank":
            assert item.outcome == "blank", where
        elif truth.kind == "unmarked":
            assert item.outcome == "unreadable", where
        else:
            assert item.outcome in ("filed", "unreadable"), where
            if item.outcome != "filed":
                missed.append(where)
    assert wrong == [], "pages filed to a wrong resident, form or page"
    if dpi >= 200:
        assert missed == [], "marked pages not filed at 200 dpi or more"
    filed = sum(1 for item in report.items if item.outcome == "filed")
    assert filed == printed.marked - len(missed)
    assert report.needs_decision  # the two unmarked pages wait for the clerk
