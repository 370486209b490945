"""A folder lost for good (确认遗失/注销) no longer blocks its village's transfer: it is written off with who, when,
why and who approved it (an append-only release movement and event), then listed apart on the handover list. A folder
merely missing, or out on loan, still refuses the transfer, naming its code. The write-off itself on one site too."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.db import Database
from archiveprint.errors import Conflict, InvalidValue
from archiveprint.eventlog import Event
from archiveprint.lending.borrowers import add_borrower
from archiveprint.lending.models import Loan
from archiveprint.lending.queries import find_open_loan, loan_code, status_provider, with_written_off_loans
from archiveprint.lending.rules import LendingRules
from archiveprint.lending.services import check_out, declare_lost, return_folder, write_off
from archiveprint.locations.handover import find_handover
from archiveprint.locations.models import FolderMovement, FolderPosition
from archiveprint.locations.queries import WrittenOff, display_code, find_places, written_off
from archiveprint.locations.services import apply_layout, report_missing, shelve_village
from archiveprint.register import services
from archiveprint.sites.documents import write_documents
from archiveprint.sites.transfer import transfer_villages
from tests.conftest import ACTOR, setup_township
from tests.locations.conftest import Clock, small_layout
from tests.pdfcheck import compact, page_texts
from tests.sites.conftest import County, code, count_rows, make


def carry_out(county: County, *villages: str, dry_run: bool = False):  # type: ignore[no-untyped-def]
    return transfer_villages(county.session, "BT", county.first.code, villages=villages, supervisor="周科长",
                             providers=[status_provider(county.rules)], dry_run=dry_run, actor=ACTOR,
                             now=county.clock())


def test_a_missing_folder_is_written_off_with_its_record_and_only_then(session: Session, rules: LendingRules) -> None:
    clock = Clock()
    setup_township(session)
    apply_layout(session, small_layout(), actor=ACTOR, now=clock())
    homes = make(session, "201", 3, "张")
    shelve_village(session, services.find_village(session, "201"), actor=ACTOR, now=clock())
    lost, lent, here = homes
    with pytest.raises(Conflict, match=f"{display_code(here)} 现在在架.*下落不明"):
        write_off(session, code(here), reason="查找无果", approved_by="院长", actor=ACTOR, now=clock())
    report_missing(session, lost, reason="盘点未扫到", actor=ACTOR, now=clock())
    with pytest.raises(InvalidValue, match="批准人"):
        write_off(session, code(lost), reason="查找无果", approved_by="  ", actor=ACTOR, now=clock())
    done = write_off(session, code(lost), reason="两次全库查找无果", approved_by="王院长", actor=ACTOR, now=clock())
    assert done.changed and "王院长" in done.message
    assert session.get(FolderPosition, lost.id) is None and find_places(session, [lost.id])[lost.id].state == "gone"
    last = session.scalars(select(FolderMovement).where(FolderMovement.household_id == lost.id)
                           .order_by(FolderMovement.seq.desc())).first()
    assert last is not None and last.kind == "release" and "确认遗失注销" in last.reason and "王院长" in last.reason
    event = session.get(Event, last.event_id)
    assert event is not None and event.kind == "folder.written_off"
    assert (event.data["reason"], event.data["approved_by"], event.actor) == ("两次全库查找无果", "王院长", ACTOR)
    [record] = written_off(session, [lost.village_id])
    assert (record.household_id, record.approved_by, record.reason) == (lost.id, "王院长", "两次全库查找无果")

    # lent: refused until registered lost; then the write-off settles the loan too
    doctor = add_borrower(session, "wang", kind="village_doctor", name="王村医", unit="东村卫生室", villages=["201"],
                          actor=ACTOR, now=clock())
    check_out(session, code(lent), borrower=doctor, purpose="随访", rules=rules, actor=ACTOR, now=clock())
    with pytest.raises(Conflict, match="借出未还"):
        write_off(session, code(lent), reason="村医遗失", approved_by="王院长", actor=ACTOR, now=clock())
    declare_lost(session, code(lent), note="村医搬家时遗失", rules=rules, actor=ACTOR, now=clock())
    at = clock()
    write_off(session, code(lent), reason="村医遗失，查找无果", approved_by="王院长", actor=ACTOR, now=at)
    loan = session.scalars(select(Loan).where(Loan.household_id == lent.id)).one()
    # 遗失注销: closed, but not a return — the folder never came back
    assert loan.state == "written_off" and loan.returned_at is None and loan.returned_by is None
    assert (loan.written_off_at, loan.written_off_by, loan.write_off_reason, loan.write_off_approver) == (
        at, ACTOR, "村医遗失，查找无果", "王院长")
    assert loan.return_note == "" and find_open_loan(session, lent.id) is None
    event = session.scalars(select(Event).where(Event.kind == "loan.written_off")).one()
    assert (event.entity_id, event.data["reason"], event.data["approved_by"]) == (
        str(loan.id), "村医遗失，查找无果", "王院长")
    scanned = return_folder(session, code(lent), rules=rules, actor=ACTOR, now=clock())  # a late return scan
    assert (scanned.outcome, scanned.changed) == ("written_off", False) and "遗失注销" in scanned.message
    assert session.get(FolderPosition, lent.id) is None and loan.returned_at is None
    assert [r.household_id for r in written_off(session, [lent.village_id])] == [lost.id, lent.id]
    # the handover list's lost-and-written-off lines name the loan written off with a folder lost while lent
    listed = with_written_off_loans(session, written_off(session, [lent.village_id]))
    assert [(r.household_id, r.loan) for r in listed] == [(lost.id, ""),
                                                          (lent.id, f"{loan_code(loan.id)}（王村医（东村卫生室））")]
    assert WrittenOff.from_json(listed[1].as_json()) == listed[1] and "loan" not in listed[0].as_json()


def test_a_written_off_folder_no_longer_blocks_the_transfer_and_is_listed_apart(county: County,
                                                                                tmp_path: Path) -> None:
    s = county.session
    county.scope(county.second)
    report_missing(s, county.moved, reason="调档未找到", actor=ACTOR, now=county.clock())
    county.unscoped()
    before = count_rows(s)
    with pytest.raises(Conflict) as refused:  # merely missing: still refused, naming the folder
        carry_out(county, "201")
    assert display_code(county.moved) in str(refused.value)
    assert "下落不明" in str(refused.value) and count_rows(s) == before

    county.scope(county.second)
    write_off(s, code(county.moved), reason="全库查找两次无果", approved_by="柏棠镇卫生院 刘院长", actor=ACTOR,
              now=county.clock())
    county.unscoped()
    preview = carry_out(county, "201", dry_run=True)
    assert [w.household_id for w in preview.written_off] == [county.moved.id]
    done = carry_out(county, "201")
    assert done.fingerprint == preview.fingerprint
    assert county.moved.id not in [line.household_id for line in done.handover.lines]  # type: ignore[union-attr]
    assert done.folders == 3 and done.handover is not None and len(done.handover.written_off) == 1
    assert done.as_json()["written_off"][0]["approved_by"] == "柏棠镇卫生院 刘院长"
    event = s.get(Event, done.event_id)
    assert event is not None and event.data["written_off"][0]["reason"] == "全库查找两次无果"
    county.scope(county.first)  # the folder's village came along; the folder itself was not shelved again
    assert find_places(s, [county.moved.id])[county.moved.id].state == "gone"
    county.unscoped()
    written = write_documents(s, done, tmp_path, user=None, actor=ACTOR, now=county.clock(), timezone="Asia/Shanghai")
    text = compact(" ".join(page_texts(written["handover"])))
    assert text.count("已确认遗失注销的档案袋") == 3 and "刘院长" in text and "全库查找两次无果" in text
    county.scope(county.second)  # reprinted later from the sending site: the folders confirmed lost are still there
    again = find_handover(s, done.number or "")
    assert [(w.household_id, w.approved_by) for w in again.written_off] == [(county.moved.id, "柏棠镇卫生院 刘院长")]
    county.unscoped()


def test_the_cli_writes_off_a_missing_folder(cli_env: Database, run_cli: Callable[..., Result]) -> None:
    with cli_env.transaction() as session:
        setup_township(session)
        apply_layout(session, small_layout(), actor=ACTOR, now=Clock()())
        [lost] = make(session, "201", 1, "张")
        shelve_village(session, services.find_village(session, "201"), actor=ACTOR, now=Clock()())
        report_missing(session, lost, reason="盘点未扫到", actor=ACTOR, now=Clock()())
        folder = code(lost)
    refused = run_cli("lend", "write-off", folder, "--reason", "查找无果", "--approved-by", "")
    assert refused.exit_code == 1 and "批准人" in refused.output
    done = run_cli("lend", "write-off", folder, "--reason", "查找无果", "--approved-by", "院长")
    assert done.exit_code == 0 and "已确认遗失并注销" in done.output
    again = run_cli("lend", "write-off", folder, "--reason", "查找无果", "--approved-by", "院长")
    assert again.exit_code == 1 and "已移出档案室" in again.output
