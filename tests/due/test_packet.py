"""The monthly packet end to end through the CLI: its cover list, its forms and its pick list agree with the due
list; every form page carries its resident's re-filing mark; A4 throughout; audited (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.stamp import refile_code
from archiveprint.register import services as register
from tests.conftest import ACTOR, setup_township
from tests.locations.conftest import SMALL_LAYOUT
from tests.pdfcheck import assert_fonts_embedded_and_subset, compact, decode_barcodes, page_texts, rasterize, read


@pytest.fixture
def cli(run_cli):  # type: ignore[no-untyped-def]
    return run_cli


# Who is due in November 2026 and what the packet prints for them (forms in visit order; None: 续填, nothing new).
PEOPLE = [  # village, household head, name, sex, birth, relation, tags, dates
    ("201", "张三丰", "张三丰", "1", date(1950, 11, 1), "户主", ["高血压"], {}),
    ("201", "张三丰", "张小宝", "1", date(2025, 11, 5), "孙子", [], {}),
    ("201", "张三丰", "张无病", "1", date(1980, 1, 1), "子", [], {}),
    ("201", "刘大", "刘孕妇", "2", date(1996, 4, 4), "户主", ["孕产妇"], {"due_date": date(2027, 6, 1)}),
    ("202", "周结核", "周结核", "1", date(1979, 2, 2), "户主", ["肺结核"], {"tb_treatment_start": date(2026, 10, 5)}),
]
PRINTED = {
    "张三丰": ["health_check", "elderly_selfcare", "elderly_tcm"],  # elderly (birthday month); 高血压: 续填第4栏
    "张小宝": ["child_12_30m"],  # 12-month check starts a sheet; TCM 12 months goes on the 6～18 sheet (column 2)
    "刘孕妇": ["prenatal_first"],  # 预产期 2027-06-01: 孕12周 = 2026-11-17
    "周结核": ["tb_followup"],  # first month of treatment: column 1 of a new sheet
}


@pytest.fixture
def township(committed_db, tmp_path):  # type: ignore[no-untyped-def]
    codes = {}
    with committed_db.transaction() as session:
        setup_township(session)
        households = {}
        for village, head, name, sex, born, relation, tags, dates in PEOPLE:
            if head not in households:
                households[head] = register.create_household(session, register.find_village(session, village),
                                                             head_name=head, address=f"{head}家", actor=ACTOR)
            resident = register.register_resident(session, households[head], name=name, sex=sex, birth_date=born,
                                                  relation_to_head=relation, tags=tags, actor=ACTOR)
            for key, value in dates.items():
                setattr(resident, key, value)
            codes[name] = resident.archive_code
    layout = tmp_path / "room.yaml"
    layout.write_text(SMALL_LAYOUT, encoding="utf-8")
    return codes, layout


def as_json(result):  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_packet_cover_list_forms_and_pick_list_agree(cli, township, committed_db, tmp_path: Path):
    codes, layout = township
    assert cli("layout", "apply", str(layout)).exit_code == 0
    assert cli("shelve", "--village", "201").exit_code == 0
    listed = as_json(cli("due", "list", "--all", "--month", "2026-11", "--json"))
    out = tmp_path / "packet.pdf"
    packet = as_json(cli("print", "due", "--all", "--month", "2026-11", "-o", str(out), "--json"))

    # the JSON: one entry per resident due, in walking order, with population, visit and form
    assert [e["archive_code"] for e in packet["due"]] == [codes[n] for n in ("张三丰", "张小宝", "刘孕妇", "周结核")]
    assert packet["residents"] == listed["residents"] == 4 and packet["visits"] == listed["visits"] == 6
    first = packet["due"][0]
    assert first["population"] == "高血压患者、65岁及以上老年人" and first["visit"] == "季度随访、年度体检"
    assert first["form"] == "hypertension_followup、health_check、elderly_selfcare、elderly_tcm"
    assert {e["archive_code"]: e["printed"] for e in packet["due"]} == {codes[n]: f for n, f in PRINTED.items()}
    assert packet["forms"] == sum(len(f) for f in PRINTED.values())
    assert set(packet) >= {"residents", "forms", "pages", "seconds", "due", "output", "picklist"}

    # the packet PDF: cover list pages first (one table per village), then the forms, every page A4
    reader = read(out)
    assert len(reader.pages) == packet["pages"]
    assert {(round(float(p.mediabox.width)), round(float(p.mediabox.height))) for p in reader.pages} == {(595, 842)}
    assert_fonts_embedded_and_subset(out)
    texts = [compact(t) for t in page_texts(out)]
    cover = [t for t in texts if "随访名单" in t]
    assert len(cover) == 2 and "东村" in cover[0] and "西村" in cover[1]
    for name in ("张三丰", "张小宝", "刘孕妇"):
        assert name in cover[0]
    assert "周结核" in cover[1] and "张无病" not in "".join(cover)
    assert "续第4栏" in cover[0] and "第1次产前检查" in cover[0] and "第1月随访" in cover[1]

    # every form page carries the mark of its resident, form and page, in walking order
    catalog = load_catalog()
    expected = [refile_code(codes[name], catalog.forms[form].number, page)
                for name in ("张三丰", "张小宝", "刘孕妇", "周结核") for form in PRINTED[name]
                for page in range(1, catalog.forms[form].pages + 1)]
    marks = [decode_barcodes(rasterize(out, index, 200)) for index in range(len(cover), len(reader.pages))]
    assert [m[0] if m else None for m in marks] == expected, marks

    # the pick list: the folders of the residents due, on their shelves first, in walking order
    picks = Path(packet["picklist"])
    assert picks == tmp_path / "packet-picklist.pdf"
    pick_text = compact("".join(page_texts(picks)))
    assert "调档单" in pick_text and "共3袋" in pick_text
    assert pick_text.index("张三丰") < pick_text.index("刘孕妇") < pick_text.index("周结核")  # 西村 not shelved: last
    assert "未上架" in pick_text

    # one print audit row per resident whose forms were printed
    with committed_db.reader() as session:
        audited = session.scalars(select(AuditEntry.subject_id).where(AuditEntry.action == "print")).all()
    assert sorted(audited) == sorted(codes[name] for name in PRINTED)


def test_a_packet_names_its_villages_or_is_refused(cli, township, tmp_path: Path):
    refused = cli("print", "due", "--month", "2026-11", "-o", str(tmp_path / "p.pdf"), "--json")
    assert refused.exit_code == 1 and "请选择村(居)委会、村医，或全部" in refused.output
    assert not (tmp_path / "p.pdf").exists()
    west = as_json(cli("print", "due", "--village", "西村", "--month", "2026-11", "-o", str(tmp_path / "w.pdf"),
                       "--json"))
    assert [e["name"] for e in west["due"]] == ["周结核"]
    nobody = as_json(cli("print", "due", "--village", "202", "--month", "2026-09", "-o", str(tmp_path / "n.pdf"),
                         "--json"))
    assert nobody["residents"] == 0 and nobody["forms"] == 0
    assert "无人到期" in compact("".join(page_texts(tmp_path / "n.pdf")))
    unknown = cli("print", "due", "--village", "北村", "-o", str(tmp_path / "u.pdf"))
    assert unknown.exit_code == 1 and "没有这个村(居)委会" in unknown.output


def test_record_and_dates_through_the_cli(cli, township):
    codes, _layout = township
    recorded = as_json(cli("due", "record", codes["张三丰"], "--schedule", "elderly", "--on", "2026-11-03", "--json"))
    assert recorded["schedule"] == "elderly"
    listed = as_json(cli("due", "list", "--village", "201", "--month", "2026-11", "--json"))
    assert ("elderly", codes["张三丰"]) not in {(d["schedule"], d["archive_code"]) for d in listed["due"]}
    dated = as_json(cli("due", "dates", codes["刘孕妇"], "--delivery-date", "2026-11-20", "--json"))
    assert dated["delivery_date"] == "2026-11-20" and dated["due_date"] == "2027-06-01"
    nothing = cli("due", "dates", codes["刘孕妇"])
    assert nothing.exit_code == 1 and "请至少给出一个日期" in nothing.output
    shown = cli("due", "visits", codes["张三丰"])
    assert "elderly" in shown.output and "2026-11-03" in shown.output
    assert as_json(cli("due", "void", str(recorded["id"]), "--json"))["voided"] is True
    assert "已撤销" in cli("due", "visits", codes["张三丰"]).output
