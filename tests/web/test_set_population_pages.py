"""The print centre and a set's population (issue #12 §3): the 重点人群 choice follows the set, the preview says
whom it prints before printing, the job prints only them; custom sets name a population (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from archiveprint.jobs import queue as jobqueue
from tests.conftest import setup_township
from tests.forms.patients import seed_patients
from tests.pdfcheck import compact, page_texts, read
from tests.web.conftest import csrf_token
from tests.web.test_print_pages import fetch, job_id_of, print_input, wait_until_finished


@pytest.fixture
def village(committed_db):
    with committed_db.transaction() as session:
        setup_township(session)
        return seed_patients(session)


def selected(html: str, field: str) -> str:
    """The value of the option chosen in a <select>."""
    select = re.search(rf'<select[^>]*id="{field}"[^>]*>(.*?)</select>', html, re.S)
    assert select, field
    chosen = re.search(r'<option selected value="([^"]*)"', select.group(1))
    return chosen.group(1) if chosen else ""


def headline(html: str) -> str:
    found = re.search(r'id="plan-headline">(.*?)</p>', html, re.S)
    assert found, html[:3000]
    return unescape(found.group(1)).strip()


def test_the_population_choice_follows_the_set_and_defaults_to_its_population(client, auth, village):
    auth.login("clerk")
    page = client.get("/print?form_set=hypertension").get_data(as_text=True)
    assert selected(page, "form_set") == "set:hypertension" and selected(page, "population") == "hypertension"
    assert '<option value="all">全部居民</option>' in page and "print.js" in page
    defaults = json.loads(unescape(re.search(r'data-populations="([^"]+)"', page).group(1)))
    assert defaults["set:hypertension"] == "hypertension" and defaults["set:child_check"] == "children"
    assert defaults["set:new_record"] == "all"
    assert selected(client.get("/print?form_set=new_record").get_data(as_text=True), "population") == "all"


def test_the_preview_says_whom_it_prints_and_the_job_prints_only_them(client, auth, village, committed_db):
    auth.login("clerk")
    values = {"form_set": "set:hypertension", "village": "201", "population": "hypertension"}
    preview = client.post("/print/preview", data=print_input(client, **values)).get_data(as_text=True)
    assert headline(preview) == "高血压随访 · 东村 · 高血压患者：20 人，20 页"
    assert re.search(r'id="preview-residents">20<', preview) and re.search(r'id="preview-pages">20<', preview)
    assert "只打印高血压患者" in preview
    everyone = client.post("/print/preview", data=print_input(client, **{**values, "population": "all"}))
    html = everyone.get_data(as_text=True)
    assert headline(html) == "高血压随访 · 东村：90 人，90 页" and 'id="population-note"' not in html
    chosen = client.post("/print/preview", data=print_input(client, **{**values, "population": "children"}))
    assert headline(chosen.get_data(as_text=True)).endswith("东村 · 0～6岁儿童：10 人，10 页")

    job_id = job_id_of(client.post("/print/start", data=print_input(client, **values)))
    with committed_db.reader() as session:
        params = jobqueue.get_job(session, job_id).params
    assert params["population"] == "hypertension" and params["scope"]["on"] == "2026-11-25"
    assert params["scope_text"] == "东村，高血压患者" and params["residents"] == 20
    state = wait_until_finished(client, job_id)
    assert (state["status"], state["pages"]) == ("done", 20)
    page = client.get(f"/print/jobs/{job_id}").get_data(as_text=True)
    link = re.search(r'href="(/print/jobs/\d+/files/[^"]+)"', page)
    assert "高血压随访-东村-高血压患者-20261125.pdf" in page
    pdf = fetch(client, link.group(1))
    assert len(read(pdf).pages) == 20
    printed = [name for text in page_texts(pdf) for name in village.patients + village.others if name in compact(text)]
    assert sorted(printed) == sorted(village.patients)


def test_codes_and_blank_prints_keep_everyone(client, auth, village):
    auth.login("clerk")
    codes = "13012310020100002\n13012310020100003\n"  # 赵秀英 (a spouse) and 赵小宝 (a child): no patients
    values = {"form_set": "set:hypertension", "population": "hypertension"}
    html = client.post("/print/preview", data=print_input(client, codes=codes, **values)).get_data(as_text=True)
    assert headline(html) == "高血压随访 · 2 个档案编号：2 人，2 页"
    blank = client.post("/print/preview", data=print_input(client, blank=True, copies="3", **values))
    assert "空白表，共 3 页" in blank.get_data(as_text=True)
    refused = client.post("/print/preview", data=print_input(client, codes=codes, **{**values,
                                                                                    "population": "diabetes"}))
    assert refused.status_code == 400 and "档案编号按原样打印" in refused.get_data(as_text=True)


def test_a_custom_set_names_its_population_and_the_sets_page_shows_each_sets(client, auth, village):
    auth.login("admin")
    page = client.get("/print/sets")
    listing = page.get_data(as_text=True)
    row = re.search(r"<td class=\"name\">高血压随访</td>.*?</tr>", listing, re.S).group(0)
    assert '<td class="population">高血压患者</td>' in row
    row = re.search(r"<td class=\"name\">年度体检</td>.*?</tr>", listing, re.S).group(0)
    assert '<td class="population">全部居民</td>' in row
    response = client.post("/print/sets", data={"csrf_token": csrf_token(page), "name": "慢病随访",
                                                "population": "hypertension", "forms-0": "hypertension_followup",
                                                "forms-1": "diabetes_followup"})
    assert response.status_code == 303
    listing = client.get("/print/sets").get_data(as_text=True)
    key = re.search(r"/print/sets/(custom_[0-9a-f]+)/delete", listing).group(1)
    center = client.get(f"/print?form_set={key}").get_data(as_text=True)
    assert selected(center, "population") == "hypertension"
    preview = client.post("/print/preview", data=print_input(client, form_set=f"set:{key}", village="201",
                                                              population="hypertension"))
    assert headline(preview.get_data(as_text=True)) == "慢病随访 · 东村 · 高血压患者：20 人，40 页"


def test_the_population_choice_speaks_english(client, auth, village):
    auth.login("clerk")
    client.set_cookie("lang", "en")
    page = client.get("/print?form_set=hypertension").get_data(as_text=True)
    assert "Key population" in page and ">All residents</option>" in page
    preview = client.post("/print/preview", data=print_input(client, form_set="set:hypertension", village="201",
                                                              population="hypertension")).get_data(as_text=True)
    assert headline(preview).endswith(": 20 residents, 20 pages")
    assert "Only 高血压患者 are printed" in preview
