"""Lending paperwork as real PDFs: the receipt's barcodes decode, the register and the slips carry every row."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from archiveprint.lending.documents import RECEIPT_SIZE, print_overdue_slips, print_receipt, print_register
from archiveprint.lending.queries import loan_code
from archiveprint.lending.services import renew, return_folder
from tests.conftest import ACTOR
from tests.lending.conftest import TODAY
from tests.pdfcheck import assert_fonts_embedded_and_subset, compact, decode_barcodes, page_texts, rasterize, read


def _audits(desk, detail_start: str) -> list[tuple[str, str, str]]:
    return [(a.action, a.subject_type, a.subject_id) for a in desk.session.scalars(
        select(AuditEntry).where(AuditEntry.detail.startswith(detail_start)).order_by(AuditEntry.id))]


def test_the_receipt_is_one_small_page_whose_barcodes_scan_back(desk, lend):
    household = desk.homes[0]
    loan = lend(household, purpose="复诊")
    pdf = print_receipt(desk.session, loan.id, user=desk.director, rules=desk.rules, now=desk.clock())
    page, = read(pdf).pages
    assert [round(float(v), 1) for v in page.mediabox[2:]] == [round(RECEIPT_SIZE[0], 1), round(RECEIPT_SIZE[1], 1)]
    text = compact(page_texts(pdf)[0])
    for expected in ("档案借阅凭条", "诸福屯镇卫生院", loan_code(loan.id), "130123-100-201-F00001-", "户主：张1号",
                     "钱医生（全科）", "复诊", "2026-11-2509:01", "应还日期：2026年12月09日", "借阅人签字"):
        assert expected in text, expected
    assert_fonts_embedded_and_subset(pdf)
    for dpi in (200, 300):
        found = decode_barcodes(rasterize(pdf, 0, dpi))
        assert sorted(found) == sorted([loan_code(loan.id), desk.code(household)]), (dpi, found)
    assert _audits(desk, "借阅凭条") == [("print", "household", str(household.id))]


def test_an_on_site_receipt_says_it_may_not_leave_the_room(desk, lend):
    loan = lend(desk.homes[1], on_site=True)
    pdf = print_receipt(desk.session, loan.id, user=None, rules=desk.rules, now=desk.clock())
    assert "限档案室内查阅" in compact(page_texts(pdf)[0])


def test_the_monthly_register_lists_every_loan_of_the_month_in_archive_columns(desk, lend):
    first = lend(desk.homes[0], purpose="复诊")
    lend(desk.homes[1], borrower=desk.village_doctor, purpose="其他", purpose_note="家庭医生签约")
    lend(desk.west[0])
    renew(desk.session, loan_code(first.id), rules=desk.rules, actor=ACTOR, now=desk.clock())
    return_folder(desk.session, desk.code(desk.homes[0]), condition="破损", note="封皮开裂", rules=desk.rules,
                  actor=ACTOR, now=desk.clock())
    pdf, count = print_register(desk.session, "2026-11", user=desk.director, rules=desk.rules, now=desk.clock())
    assert count == 3
    page, = read(pdf).pages
    width, height = (float(v) for v in page.mediabox[2:])
    assert width > height  # A4 landscape
    text = compact(page_texts(pdf)[0])
    for expected in ("档案借阅登记表", "2026年11月", "借阅人", "单位/部门", "借阅事由", "审批人", "应还日期",
                     "归还日期", "归还状况", "借阅人签字", "经办人签字", "130123-100-201-F00001-", "钱医生", "王村医",
                     "东村卫生室", "其他：家庭医生签约", "破损：封皮开裂", "续借1次", "共3笔，已还1，未还2"):
        assert expected in text, expected
    assert text.index("F00001") < text.index("F00002")  # in the order lent
    assert_fonts_embedded_and_subset(pdf)
    assert {subject for _, _, subject in _audits(desk, "借阅登记表")} == \
        {str(h.id) for h in (desk.homes[0], desk.homes[1], desk.west[0])}
    empty, none = print_register(desk.session, "2026-10", user=None, rules=desk.rules, now=desk.clock())
    assert none == 0 and "本月没有借阅" in compact(page_texts(empty)[0])


def test_overdue_slips_give_each_village_its_own_page(desk, lend):
    lend(desk.homes[0], borrower=desk.village_doctor)
    lend(desk.homes[1])
    lend(desk.west[1])
    later = TODAY + timedelta(days=20)
    pdf, overdue = print_overdue_slips(desk.session, today=later, user=None, rules=desk.rules, now=desk.clock())
    assert len(overdue) == 3
    east, west = (compact(t) for t in page_texts(pdf))
    assert "逾期未还档案通知单" in east and "东村（201）" in east and "西村" not in east
    assert "王村医（东村卫生室）" in east and "F00001" in east and "F00002" in east and "村医签收" in east
    assert "西村（202）" in west and "F00002" in west and "6" in west
    one, only = print_overdue_slips(desk.session, today=later, village="202", user=None, rules=desk.rules,
                                    now=desk.clock())
    assert len(only) == 1 and len(read(one).pages) == 1
    none, nothing = print_overdue_slips(desk.session, today=TODAY, user=None, rules=desk.rules, now=desk.clock())
    assert nothing == [] and "没有逾期未还的档案" in compact(page_texts(none)[0])


def test_issue_10_4_an_approved_request_puts_its_approver_on_the_loan_and_the_register_row(desk):
    from archiveprint.lending.queries import list_queue
    from archiveprint.lending.requests import approve_request, request_folders
    from archiveprint.lending.services import check_out

    # A staff doctor's request needs no approval under the shipped rules, but the director approved it anyway.
    request, = request_folders(desk.session, [desk.code(desk.homes[0])], borrower=desk.doctor, purpose="复诊",
                               rules=desk.rules, actor=ACTOR, now=desk.clock()).created
    approve_request(desk.session, request.id, approver=desk.director, opinion="同意", rules=desk.rules, actor=ACTOR,
                    now=desk.clock())
    row, = list_queue(desk.session, rules=desk.rules).rows
    assert (row.approver, f"{row.approved_at:%Y-%m-%d %H:%M}", row.approval_opinion) == \
        ("周院长", "2026-11-25 09:02", "同意")
    assert row.as_json()["approver"] == "周院长"
    loan = check_out(desk.session, desk.code(desk.homes[0]), rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert loan.approver_id == desk.director.id
    pdf, count = print_register(desk.session, "2026-11", user=None, rules=desk.rules, now=desk.clock())
    assert count == 1
    line = next(line for line in page_texts(pdf)[0].splitlines() if "F00001" in line)
    assert "周院长" in compact(line)
