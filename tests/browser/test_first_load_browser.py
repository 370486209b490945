"""First visits with a cold browser cache on a PC without Chinese fonts: every main page gets its text from the small
UI subset and never waits for the 16 MB font, which only a rare character in a name fetches (issue #10.16).

The load times are printed (run with -s) and recorded in docs/benchmarks.md; they are not asserted."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from archiveprint.db import Database
from archiveprint.register import services
from tests.browser.test_phone_browser import DESK, main_pages, seed, sign_in_as_director
from tests.conftest import ACTOR

pytestmark = pytest.mark.browser
FULL_FONT = "NotoSansCJKsc-Regular.otf"
SUBSET = "NotoSansCJKsc-UI.woff2"
RESULTS = Path(__file__).resolve().parent.parent / "results"
MEASURE = """async () => {
  await document.fonts.ready;
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const fonts = resources.filter(e => e.name.includes("/fonts/"));
  return {
    html: nav.responseEnd,
    font: Math.max(0, ...fonts.map(e => e.responseEnd - e.startTime)),
    load: nav.loadEventEnd,
    ready: Math.max(nav.loadEventEnd, ...resources.map(e => e.responseEnd)),
    fonts: fonts.map(e => [e.name.split("/").pop(), e.encodedBodySize]),
  };
}"""


def first_visits(browser: Browser, live_server: str, paths: list[str]) -> dict[str, dict]:
    """Each page in a new browser context (an empty cache) that carries the signed-in session cookie."""
    signing = browser.new_context(viewport=DESK)
    sign_in_as_director(signing.new_page(), live_server)
    state = signing.storage_state()
    signing.close()
    measured = {}
    for path in paths:
        context = browser.new_context(viewport=DESK, storage_state=state)
        page = context.new_page()
        page.goto(f"{live_server}{path}", wait_until="load")
        expect(page.locator(".who-name")).to_have_text("周院长")
        measured[path] = page.evaluate(MEASURE)
        context.close()
    return measured


def report(name: str, measured: dict[str, dict]) -> str:
    lines = [f"{'page':<44} {'html ms':>8} {'font ms':>9} {'load ms':>8} {'ready ms':>9}  fonts fetched"]
    for path, m in measured.items():
        fonts = ", ".join(f"{file} {size // 1024} KB" for file, size in m["fonts"]) or "—"
        lines.append(f"{path:<44} {m['html']:>8.0f} {m['font']:>9.0f} {m['load']:>8.0f} {m['ready']:>9.0f}  {fonts}")
    slowest = max(m["ready"] for m in measured.values())
    lines.append(f"{len(measured)} pages, slowest ready {slowest:.0f} ms")
    text = "\n".join(lines)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.txt").write_text(text + "\n", encoding="utf-8")
    print(f"\n{name}\n{text}")
    return text


def test_issue_10_16_first_visits_never_wait_for_the_full_font(browser: Browser, live_server, committed_db):
    data = seed(committed_db)
    measured = first_visits(browser, live_server, main_pages(data))
    report(f"first-load-{committed_db.engine.dialect.name}", measured)
    fetched = {path: [file for file, _size in m["fonts"]] for path, m in measured.items()}
    assert {path: files for path, files in fetched.items() if FULL_FONT in files} == {}
    assert all(files in ([], [SUBSET]) for files in fetched.values())


def test_issue_10_16_a_rare_character_in_a_name_still_shows(browser: Browser, live_server, committed_db: Database):
    data = seed(committed_db)
    with committed_db.transaction() as session:
        household = services.create_household(session, services.find_village(session, "201"), head_name="龘天",
                                              actor=ACTOR)
        code = services.register_resident(session, household, name="龘天", sex="1", relation_to_head="户主",
                                          actor=ACTOR).archive_code
    measured = first_visits(browser, live_server, [f"/residents/{code}", f"/residents/{data['resident']}"])
    report(f"first-load-rare-{committed_db.engine.dialect.name}", measured)
    rare, common = ([file for file, _size in m["fonts"]] for m in measured.values())
    assert FULL_FONT in rare  # 龘 is in no PC font here, nor in the subset: the full font is the fallback
    assert FULL_FONT not in common
