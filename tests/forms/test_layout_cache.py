"""Issue #10.17: blank layouts are kept on disk, shared by processes, rebuilt when a source changes or is damaged."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from archiveprint import resources
from archiveprint.forms.catalog import SiteChoice, load_catalog, load_form
from archiveprint.forms.layout import LayoutEngine, layout_key
from tests.pdfcheck import check_structure

ROOT = Path(__file__).resolve().parents[2]
FORM = load_catalog().form("encounter")
IN_A_NEW_PROCESS = """
import json, sys
from pathlib import Path
from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.layout import engine, layout_cache_dir, layout_form, use_cache_dir
use_cache_dir(layout_cache_dir(Path(sys.argv[1])))
layout = layout_form(load_catalog().form("encounter"))
print(json.dumps({"laid_out": engine().laid_out, "pages": len(layout.pages)}))
"""


def cached_files(folder: Path) -> list[str]:
    return sorted(path.name.split("-")[0] for path in folder.glob("*.json"))


def test_issue_10_17_a_fresh_engine_reads_the_layout_from_disk_without_weasyprint(tmp_path):
    first = LayoutEngine(tmp_path)
    made = first.layout(FORM)
    assert first.laid_out == 1 and cached_files(tmp_path) == ["encounter"]
    assert first.layout(FORM) is made and first.laid_out == 1  # memory, as before

    second = LayoutEngine(tmp_path)
    read = second.layout(FORM)
    assert second.laid_out == 0
    assert read.pdf == made.pdf and read.pages == made.pages and read.slot_names == made.slot_names


def test_issue_10_17_two_processes_starting_cold_lay_the_form_out_once_between_them(tmp_path):
    runs = [subprocess.Popen([sys.executable, "-c", IN_A_NEW_PROCESS, str(tmp_path)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True) for _ in range(2)]
    results = [json.loads(run.communicate(timeout=120)[0]) for run in runs]
    assert sorted(result["laid_out"] for result in results) == [0, 1]
    assert [result["pages"] for result in results] == [1, 1]
    again = subprocess.run([sys.executable, "-c", IN_A_NEW_PROCESS, str(tmp_path)], cwd=ROOT, capture_output=True,
                           text=True, check=True, timeout=120)
    assert json.loads(again.stdout) == {"laid_out": 0, "pages": 1}
    assert cached_files(tmp_path / "cache" / "layouts") == ["encounter"]


@pytest.fixture
def copied_form(tmp_path):
    """The encounter form with its sources copied (form folder, shared form templates, print CSS) to edit."""
    source = resources.template_dir()
    copy = tmp_path / "templates"
    shutil.copytree(source / "forms" / "encounter", copy / "forms" / "encounter")
    for shared in (source / "forms").glob("_*.html"):
        shutil.copy(shared, copy / "forms" / shared.name)
    shutil.copytree(source / "print", copy / "print")
    return replace(FORM, folder=copy / "forms" / "encounter")


@pytest.mark.parametrize("edited", ["forms/encounter/form.html", "forms/encounter/form.yaml", "forms/_base.html",
                                    "print/forms.css"])
def test_issue_10_17_a_changed_template_or_stylesheet_lays_the_form_out_again(tmp_path, copied_form, edited):
    cache = tmp_path / "cache"
    first = LayoutEngine(cache)
    first.layout(copied_form)
    assert first.laid_out == 1
    before = layout_key(copied_form)
    with (tmp_path / "templates" / edited).open("a", encoding="utf-8") as fp:
        fp.write("\n")
    assert layout_key(copied_form) != before
    engine = LayoutEngine(cache)
    engine.layout(copied_form)
    assert engine.laid_out == 1
    fresh = LayoutEngine(cache)
    fresh.layout(copied_form)
    assert fresh.laid_out == 0


def test_issue_10_17_site_variants_and_settings_are_other_layouts(tmp_path):
    variant = replace(FORM, fields=FORM.fields[:-1])
    assert len({layout_key(FORM), layout_key(variant), layout_key(FORM, {"unit": "某卫生院"})}) == 3


def test_issue_12_the_rows_a_site_adds_or_removes_are_other_layouts():
    folder = resources.template_dir() / "forms" / "hypertension_followup"
    keys = {layout_key(load_form(folder, SiteChoice(add=add, remove=remove)))
            for add, remove in [((), ()), (("remarks",), ()), (("remarks", "next_steps"), ()), ((), ("drug_other",))]}
    assert len(keys) == 4


def test_a_change_to_macros_imported_from_another_forms_folder_lays_the_form_out_again(tmp_path):
    """The diabetes sheet imports forms/hypertension_followup/macros.html: an edit there is a new layout (the key
    once covered only the form's own folder and the shared templates); the other form's own files are not."""
    source, copy = resources.template_dir(), tmp_path / "templates"
    for form_id in ("diabetes_followup", "hypertension_followup"):
        shutil.copytree(source / "forms" / form_id, copy / "forms" / form_id)
    for shared in (source / "forms").glob("_*.html"):
        shutil.copy(shared, copy / "forms" / shared.name)
    shutil.copytree(source / "print", copy / "print")
    form = replace(load_catalog().form("diabetes_followup"), folder=copy / "forms" / "diabetes_followup")
    before = layout_key(form)
    with (copy / "forms" / "hypertension_followup" / "form.yaml").open("a", encoding="utf-8") as fp:
        fp.write("\n")
    assert layout_key(form) == before
    with (copy / "forms" / "hypertension_followup" / "macros.html").open("a", encoding="utf-8") as fp:
        fp.write("\n")
    assert layout_key(form) != before


@pytest.mark.parametrize("damage", ["truncated", "garbage", "pdf_bytes", "empty"])
def test_issue_10_17_a_damaged_cache_file_is_laid_out_again_and_rewritten(tmp_path, damage):
    LayoutEngine(tmp_path).layout(FORM)
    (path,) = tmp_path.glob("encounter-*.json")
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\xffnot json")
    elif damage == "pdf_bytes":
        raw = json.loads(data)
        raw["pdf"] = ("AAAA" + raw["pdf"][4:])
        path.write_text(json.dumps(raw))
    else:
        path.write_bytes(b"")
    engine = LayoutEngine(tmp_path)
    layout = engine.layout(FORM)
    assert engine.laid_out == 1 and len(layout.pages) == 1
    check_structure(layout.pdf)
    after = LayoutEngine(tmp_path)
    after.layout(FORM)
    assert after.laid_out == 0 and sorted(p.name for p in tmp_path.glob("*.tmp")) == []


def test_issue_10_17_an_unwritable_cache_folder_still_prints(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    engine = LayoutEngine(blocked / "layouts")
    assert len(engine.layout(FORM).pages) == 1 and engine.laid_out == 1


@pytest.fixture
def metrics_cache(tmp_path):
    """load_metrics with a disk cache in tmp_path, its per-process memory cleared before and after."""
    from archiveprint.pdf import fonts as pdffont

    pdffont.load_metrics.cache_clear()
    pdffont.use_metrics_cache(tmp_path)
    yield tmp_path
    pdffont.use_metrics_cache(None)
    pdffont.load_metrics.cache_clear()


def test_issue_10_17_font_metrics_are_kept_beside_the_layouts_and_a_damaged_file_is_read_again(metrics_cache):
    from archiveprint.pdf import fonts as pdffont
    from archiveprint.pdf.fonts import font_path

    made = pdffont.load_metrics(font_path())
    (path,) = metrics_cache.glob("NotoSerifCJKsc-Regular-*.json")
    pdffont.load_metrics.cache_clear()
    read = pdffont.load_metrics(font_path())
    assert read == made and read.width("张三丰", 10) == made.width("张三丰", 10) == 30.0
    path.write_bytes(path.read_bytes()[:100])
    pdffont.load_metrics.cache_clear()
    assert pdffont.load_metrics(font_path()) == made
    assert json.loads(path.read_bytes())["key"]  # rewritten whole
