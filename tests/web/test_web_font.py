"""The web font subset holds every character of the UI's own text, fonts.css names the files' current versions, and
the font route lets browsers keep a versioned font for a year (issue #10.16)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

from fontTools.ttLib import TTFont

from archiveprint.web import CSP

ROOT = Path(__file__).resolve().parent.parent.parent
REGENERATE = "run `.venv/bin/python scripts/make_web_font.py` and commit fonts/web and templates/web/static/fonts.css"


def _script():
    spec = importlib.util.spec_from_file_location("make_web_font", ROOT / "scripts" / "make_web_font.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("make_web_font", module)
    spec.loader.exec_module(module)
    return module


def test_issue_10_16_every_ui_character_is_in_the_subset():
    script = _script()
    with TTFont(script.FULL, lazy=True) as font:
        full = set(font.getBestCmap())
    with TTFont(script.SUBSET) as font:
        subset = set(font.getBestCmap())
    wanted = {c for c in script.ui_characters() | script.common_hanzi() if ord(c) in full}
    missing = "".join(sorted(c for c in wanted if ord(c) not in subset))
    assert missing == "", f"characters of the UI missing from {script.SUBSET.name}: {missing!r}; {REGENERATE}"
    assert {"查", "扫", "码", "台", "菜", "单", "诸", "福", "屯"} <= {chr(c) for c in subset}
    assert ord("龘") not in subset  # rare characters are left to the full font
    assert script.SUBSET.stat().st_size < 1_000_000


def test_issue_10_16_fonts_css_names_the_current_files():
    script = _script()
    css = script.CSS.read_text(encoding="utf-8")
    assert f"../fonts/{script.version(script.SUBSET)}/web/NotoSansCJKsc-UI.woff2" in css, REGENERATE
    assert f"../fonts/{script.version(script.FULL)}/NotoSansCJKsc-Regular.otf" in css, REGENERATE
    assert css.index('"Archiveprint UI"') < css.index('"Archiveprint CJK"')
    assert "U+20-7E" in css and "U+4E00" in css  # the subset says which characters it has: no fetch for others


def test_issue_10_16_system_fonts_come_first_and_the_full_font_last():
    css = (ROOT / "templates" / "web" / "static" / "app.css").read_text(encoding="utf-8")
    stack = re.search(r"body \{[^}]*font-family: ([^;]+);", css).group(1)
    families = [name.strip().strip('"') for name in stack.split(",")]
    assert families[:2] == ["Microsoft YaHei", "PingFang SC"]
    assert families.index("Archiveprint UI") == families.index("Archiveprint CJK") - 1
    assert families.index("WenQuanYi Micro Hei") < families.index("Archiveprint UI")
    assert "url(" not in css  # app.css itself fetches no font


def test_issue_10_16_versioned_fonts_are_immutable_and_allowed_by_the_csp(client):
    script = _script()
    css = client.get("/static/fonts.css")
    assert css.status_code == 200
    urls = re.findall(r'url\("\.\./fonts/([^"]+)"\)', css.get_data(as_text=True))
    css.close()
    assert len(urls) == 2
    subset = client.get(f"/fonts/{urls[0]}")
    assert subset.status_code == 200
    assert subset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert subset.content_length == script.SUBSET.stat().st_size
    assert "default-src 'self'" in CSP and "font-src" not in CSP  # fonts fall under default-src 'self'
    subset.close()

    stale = client.get("/fonts/000000000000/web/NotoSansCJKsc-UI.woff2")
    assert stale.status_code == 200 and stale.headers["Cache-Control"] == "no-cache"
    stale.close()
    assert client.get("/fonts/OFL.txt").status_code == 404
    assert client.get(f"/fonts/{urls[0].split('/')[0]}/extract.py").status_code == 404
