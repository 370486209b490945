"""The location commands on a real database: layout, shelve, locate, move, picklist, capacity, relayout, find."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiveprint.cli import AppContext, main
from archiveprint.locations.models import InventoryScan
from archiveprint.register import services as register
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR, setup_township
from tests.locations.conftest import SMALL_LAYOUT
from tests.pdfcheck import compact, page_texts


@pytest.fixture
def cli(committed_db, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), obj=AppContext(), catch_exceptions=False)
    return run


@pytest.fixture
def township(committed_db, tmp_path):  # type: ignore[no-untyped-def]
    """Township, villages 201/202 with households (201: 张三丰 + 3 more), and the small layout as a file."""
    with committed_db.transaction() as session:
        setup_township(session)
        for code, names in (("201", ["张三丰", "张无忌", "张翠山", "张远桥"]), ("202", ["李莲舟", "李松溪"])):
            village = register.find_village(session, code)
            for n, name in enumerate(names):
                household = register.create_household(session, village, head_name=name, external_no=f"{code}-{n}",
                                                      actor=ACTOR)
                register.register_resident(session, household, name=name, sex="1", relation_to_head="户主",
                                           phone=f"1390000{code}{n}" if n == 0 else "", actor=ACTOR)
    path = tmp_path / "room.yaml"
    path.write_text(SMALL_LAYOUT, encoding="utf-8")
    return path


def as_json(result):  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_layout_preview_then_apply_then_show(cli, township):
    preview = cli("layout", "apply", str(township), "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "列 2 × 面 2 × 层 3，共 12 层架位，可放 48 袋" in preview.output
    assert "新增 14 层" in preview.output and "预览，未写入" in preview.output
    assert cli("layout", "show").exit_code == 1  # nothing applied yet: a Chinese error, exit 1
    assert "已应用" in cli("layout", "apply", str(township)).output
    shown = as_json(cli("layout", "show", "--json"))
    assert shown["shelves"] == 14 and shown["blocks"][0]["levels"][0] == {"label": "列", "count": 2,
                                                                         "first": "1列", "last": "2列"}
    example = cli("layout", "apply", "example-township", "--dry-run", "--json")  # a name from storage_layout/
    data = as_json(example)
    assert data["shelves"] == 802 and len(data["removed"]) == 12 and not data["applied"]  # K2-J-1-1, -2 stay


def test_layout_errors_are_chinese_with_line_numbers_and_usage_errors_exit_2(cli, township, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(SMALL_LAYOUT.replace("层 1-3", "层 1-x"), encoding="utf-8")
    result = cli("layout", "apply", str(bad))
    assert result.exit_code == 1 and "第9行" in result.output and "bad.yaml" in result.output
    assert "Traceback" not in result.output
    assert cli("layout", "apply", str(tmp_path / "none.yaml")).exit_code == 2


def test_shelve_locate_move_and_history(cli, township):
    cli("layout", "apply", str(township))
    shelved = as_json(cli("shelve", "--village", "201", "--json"))
    assert shelved["placed"] == 4 and shelved["run"] == ["K1-M-1-A-1", "K1-M-1-A-2"]
    assert "已上架 2 袋" in cli("shelve", "--village", "西村").output

    found = as_json(cli("locate", "zsf", "--json"))
    assert [f["head_name"] for f in found] == ["张三丰"]
    assert found[0]["location"] == "一号库房 1列 A面 1层 第1位" and found[0]["status"] == "on_shelf"
    code = folder_code("130123100201", 1)
    assert as_json(cli("locate", code.display, "--json"))[0]["folder"] == code.value

    moved = cli("move", "13012310020100001", "--to", "一号库房 2列 B面 3层 第4位", "--reason", "整理")
    assert moved.exit_code == 0 and "K1-M-2-B-3" in moved.output
    taken = cli("move", "13012310020100002", "--to", "K1-M-2-B-3#4")
    assert taken.exit_code == 1 and "已有档案袋" in taken.output

    history = as_json(cli("locate", "张三丰", "--json", "--history", "--on", "2000-01-01"))[0]
    assert [m["kind"] for m in history["history"]] == ["shelve", "move"]
    assert history["history"][-1]["reason"] == "整理"
    assert {t["actor"] for t in history["touched_by"]} == {"cli", ACTOR}
    assert history["on"] == {"date": "2000-01-01", "position": None}
    text = cli("locate", "张三丰", "--history").output
    assert "状态：在架" in text and "移位" in text and "经手人" in text


def test_find_json_adds_the_folder_location_and_status(cli, township):
    cli("layout", "apply", str(township))
    before = as_json(cli("find", "张无忌", "--json"))[0]
    assert before["location"] is None and before["status"] == "unshelved"
    assert before["record_status"] == "active"
    cli("shelve", "--village", "201")
    after = as_json(cli("find", "张无忌", "--json"))[0]
    assert after["location"] == "一号库房 1列 A面 1层 第2位" and after["status"] == "on_shelf"
    assert after["status_text"] == "在架" and after["archive_code"] == "13012310020100002"


def test_picklist_in_walking_order_as_text_json_and_pdf(cli, township, tmp_path):
    cli("layout", "apply", str(township))
    cli("shelve", "--village", "201")
    cli("shelve", "--village", "202")
    codes = ["13012310020200001", "13012310020100003", "13012310020100001", "F000000000000000000"]
    data = as_json(cli("picklist", *codes, "--json"))
    assert [r["head_name"] for r in data["rows"]] == ["张三丰", "张翠山", "李莲舟"]
    assert [r["code"] for r in data["not_found"]] == ["F000000000000000000"]
    pdf = tmp_path / "list.pdf"
    result = cli("picklist", *codes[:3], "-o", str(pdf))
    assert result.exit_code == 0 and pdf.is_file()
    page, = page_texts(pdf.read_bytes())
    text = compact(page)
    assert text.index("张三丰") < text.index("张翠山") < text.index("李莲舟")
    assert "诸福屯镇卫生院" in text


def test_capacity_and_relayout_preview_then_apply(cli, township, committed_db):
    cli("layout", "apply", str(township))
    cli("shelve", "--village", "201")
    cli("shelve", "--village", "202")
    report = as_json(cli("capacity", "--json"))
    east = next(v for v in report["villages"] if v["code"] == "201")
    assert (east["shelves"], east["used"], east["room_in_run"]) == (2, 4, 4)
    assert "201" in cli("capacity").output
    with committed_db.transaction() as session:  # 201 grows past its two shelves
        village = register.find_village(session, "201")
        for n in range(6):
            household = register.create_household(session, village, head_name=f"新户{n}", external_no=f"N{n}",
                                                   actor=ACTOR)
            register.register_resident(session, household, name=f"王{n}", sex="2", relation_to_head="户主",
                                       actor=ACTOR)
    refused = cli("shelve", "--village", "201")
    assert refused.exit_code == 1 and "relayout --village 201" in refused.output
    preview = as_json(cli("relayout", "--village", "201", "--json"))
    assert preview["moved"] == 2 and preview["placed"] == 6 and not preview["applied"]
    assert "挪动清单" in cli("relayout", "--village", "201").output
    applied = as_json(cli("relayout", "--village", "201", "--apply", "--json"))
    assert applied["applied"] and applied["fingerprint"] == preview["fingerprint"]
    after = as_json(cli("capacity", "--json"))
    assert next(v for v in after["villages"] if v["code"] == "201")["unshelved"] == 0
    assert as_json(cli("relayout", "--village", "201", "--json"))["moved"] == 0


def test_removing_an_occupied_shelf_is_refused_with_the_folders_listed(cli, township, tmp_path):
    cli("layout", "apply", str(township))
    cli("shelve", "--village", "201")
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(SMALL_LAYOUT.replace("层 1-3", "层 2-3"), encoding="utf-8")
    preview = cli("layout", "apply", str(smaller), "--dry-run")
    assert preview.exit_code == 1 and "不能应用：4 袋" in preview.output
    refused = cli("layout", "apply", str(smaller), "--json")
    assert refused.exit_code == 1
    data = json.loads(refused.stdout)
    assert len(data["blocked"]) == 4 and {b["shelf"] for b in data["blocked"]} == {"K1-M-1-A-1"}
    assert as_json(cli("layout", "show", "--json"))["shelves"] == 14  # unchanged


# --- closed records, inventory and handover (issue #5) ---------------------------------------------------------

def fc(village: str, number: int) -> str:
    return folder_code(f"130123100{village}", number).value


def test_close_and_reopen_keep_history_and_need_a_reason(cli, township):
    cli("layout", "apply", str(township))
    cli("shelve", "--village", "201")
    refused = cli("close", fc("201", 2), "--reason", "全户迁出")
    assert refused.exit_code == 1 and "未结案" in refused.output
    closed = as_json(cli("close", fc("201", 2), "--reason", "全户迁出", "--close-members", "moved", "--json"))
    assert closed["shelf"] == "K2-J-1-1" and closed["status"]["code"] == "closed"
    assert cli("reopen", fc("201", 2)).exit_code == 2  # --reason is required
    back = as_json(cli("reopen", fc("201", 2), "--reason", "误操作，已回本村", "--json"))
    assert back["shelf"] == "K1-M-1-A-1" and back["slot"] == 2
    history = as_json(cli("locate", fc("201", 2), "--history", "--json"))[0]["history"]
    assert [(m["kind"], m["reason"]) for m in history] == [("shelve", ""), ("close", "全户迁出"),
                                                            ("reopen", "误操作，已回本村")]


def test_inventory_from_start_to_signed_record(cli, township, tmp_path):
    cli("layout", "apply", str(township))
    cli("shelve", "--village", "201")
    cli("shelve", "--village", "202")
    started = as_json(cli("inventory", "start", "--village", "201", "--counter", "孙管理员", "--counter", "钱医生",
                          "--json"))
    number = started["number"]
    assert number.startswith("PD-") and started["shelves"] >= 1 and "村 201" in started["range"]
    scan = as_json(cli("inventory", "scan", number, fc("201", 1), "--shelf", "K1-M-1-A-1", "--json"))
    assert scan["category"] == "found" and scan["home"].endswith("第1位")
    unknown = cli("inventory", "scan", number, "XYZ")
    assert unknown.exit_code == 0 and "无法识别" in unknown.output
    codes = tmp_path / "scanner.txt"
    codes.write_bytes(f"K1-M-1-A-1\n{fc('201', 2)}\n\n{fc('202', 1)},一号库房 1列 A面 1层\n".encode("gbk"))
    uploaded = as_json(cli("inventory", "upload", number, str(codes), "--json"))
    assert (uploaded["scans"], uploaded["encoding"], uploaded["already"]) == (2, "gbk", False)
    assert as_json(cli("inventory", "upload", number, str(codes), "--json"))["already"] is True
    bad = tmp_path / "bad.csv"
    bad.write_text(f"{fc('201', 3)}\n{fc('201', 4)},NO-SUCH-SHELF\n", encoding="utf-8")
    refused = cli("inventory", "upload", number, str(bad))
    assert refused.exit_code == 1 and "第2行" in refused.output and "NO-SUCH-SHELF" in refused.output
    report = as_json(cli("inventory", "report", number, "--json"))
    assert report["counts"]["found"] == 2 and report["counts"]["missing"] == 2
    assert report["counts"]["out_of_range"] == 1 and report["counts"]["unknown"] == 1
    text = cli("inventory", "report", number)
    assert "缺失（未扫到）：2" in text.output
    closed = as_json(cli("inventory", "close", number, "--mark-missing", "--json"))
    assert closed["state"] == "closed" and closed["marked_missing"] == 2
    assert as_json(cli("locate", fc("201", 3), "--json"))[0]["status"] == "missing"
    assert cli("inventory", "scan", number, fc("201", 3)).exit_code == 1
    pdf = tmp_path / "pd.pdf"
    assert cli("inventory", "pdf", number, "-o", str(pdf)).exit_code == 0
    flat = compact("".join(page_texts(pdf)))
    assert "档案盘点记录" in flat and number in flat and compact(folder_code("130123100201", 3).display) in flat
    listed = as_json(cli("inventory", "list", "--json"))
    assert listed[0]["number"] == number and listed[0]["state"] == "closed" and listed[0]["scans"] == 4


def test_inventory_upload_reads_file_times_in_the_sites_time_zone(cli, township, tmp_path, committed_db):
    instance = tmp_path / "instance"
    instance.mkdir(exist_ok=True)
    (instance / "lending_rules.yaml").write_text("timezone: Asia/Kolkata\n", encoding="utf-8")  # UTC+05:30
    cli("layout", "apply", str(township))
    cli("shelve", "--village", "201")
    number = as_json(cli("inventory", "start", "--village", "201", "--counter", "孙管理员", "--json"))["number"]
    codes = tmp_path / "scanner.txt"
    codes.write_text(f"{fc('201', 1)},K1-M-1-A-1,2026-03-02 09:15\n", encoding="utf-8")
    assert as_json(cli("inventory", "upload", number, str(codes), "--json"))["scans"] == 1
    with committed_db.reader() as session:
        assert session.scalar(select(InventoryScan.scanned_at)) == datetime(2026, 3, 2, 3, 45)


def test_handover_dry_run_then_record_then_reprint(cli, township, tmp_path):
    cli("layout", "apply", str(township))
    cli("shelve", "--village", "202")
    parties = ("--from-party", "东村卫生院", "--to-party", "县档案馆", "--supervisor", "周院长")
    preview = as_json(cli("handover", "--village", "202", *parties, "--dry-run", "--json"))
    assert preview["recorded"] is False and preview["folders"] == 2
    assert as_json(cli("locate", fc("202", 1), "--json"))[0]["status"] == "on_shelf"
    out = tmp_path / "yj.pdf"
    done = as_json(cli("handover", fc("202", 2), fc("202", 1), *parties, "-o", str(out), "--json"))
    number = done["number"]
    assert number.startswith("YJ-") and [line["seq"] for line in done["lines"]] == [1, 2]
    assert len(page_texts(out)) == 3
    assert as_json(cli("locate", fc("202", 1), "--json"))[0]["status"] == "gone"
    again = cli("handover", fc("202", 1), *parties)
    assert again.exit_code == 1 and "已移出档案室" in again.output
    reprint = tmp_path / "again.pdf"
    assert cli("handover", "pdf", number, "-o", str(reprint)).exit_code == 0
    assert "监交方留存" in compact(page_texts(reprint)[2])
    assert number in cli("handover", "list").output
