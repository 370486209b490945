"""Requests, the clerk's queue, and the application → approval → consent → release policy, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from archiveprint.errors import Conflict, InvalidValue, PermissionDenied
from archiveprint.eventlog import list_events
from archiveprint.lending.models import LoanRequest
from archiveprint.lending.queries import list_queue
from archiveprint.lending.requests import (
    Upload,
    approve_request,
    cancel_request,
    record_evidence,
    refuse_request,
    request_folders,
)
from archiveprint.lending.services import check_out
from archiveprint.locations.services import move_folder
from tests.conftest import ACTOR
from tests.lending.conftest import TODAY

PDF = Upload("申请书.pdf", b"%PDF-1.4\n% a scanned application\n")
JPEG = Upload("同意书.jpg", b"\xff\xd8\xff\xe0 consent")


def _request(desk, households, borrower=None, purpose="随访", **kw):
    return request_folders(desk.session, [desk.code(h) for h in households], borrower=borrower or desk.doctor,
                           purpose=purpose, rules=desk.rules, actor=ACTOR, now=desk.clock(), **kw)


# --- requests and the queue --------------------------------------------------------------------------------------

def test_a_double_submitted_request_finds_the_open_one(desk):
    tomorrow = TODAY + timedelta(days=1)
    first = _request(desk, desk.homes[:3], needed_on=tomorrow)
    again = _request(desk, desk.homes[:3] + desk.homes[:1], needed_on=tomorrow)
    assert len(first.created) == 3 and not first.existing
    assert not again.created and [r.id for r in again.existing] == [r.id for r in first.created]
    assert desk.session.scalar(select(func.count(LoanRequest.id))) == 3
    other = _request(desk, desk.homes[:1], borrower=desk.village_doctor)
    assert len(other.created) == 1  # another borrower may ask for the same folder
    assert [e.kind for e in list_events(desk.session, "loan_request", first.created[0].id)] == \
        ["loan_request.created"]


def test_codes_that_name_nothing_or_another_village_are_reported_and_skipped(desk):
    batch = request_folders(desk.session, [desk.code(desk.homes[0]), "bogus", desk.code(desk.west[0]), ""],
                            borrower=desk.village_doctor, purpose="随访", rules=desk.rules, actor=ACTOR,
                            now=desk.clock())
    assert len(batch.created) == 1
    assert [code for code, _ in batch.problems] == ["bogus", desk.code(desk.west[0])]
    assert "只能申请本人负责的村" in batch.problems[1][1]


def test_the_queue_is_in_walking_order_and_shows_where_each_folder_is(desk, lend):
    # Put homes[0] after homes[1] on the shelves, then lend homes[2]: the queue walks shelves, not request order.
    move_folder(desk.session, desk.homes[0], "K1-M-2-B-3#4", actor=ACTOR, now=desk.clock())
    lend(desk.homes[2], borrower=desk.village_doctor)
    _request(desk, [desk.homes[0], desk.unshelved, desk.homes[2], desk.west[0], desk.homes[1]])
    queue = list_queue(desk.session, rules=desk.rules)
    order = [row.household_id for row in queue.rows]
    assert order == [desk.homes[1].id, desk.west[0].id, desk.homes[0].id, desk.unshelved.id, desk.homes[2].id]
    by_id = {row.household_id: row for row in queue.rows}
    assert by_id[desk.homes[2].id].place.status.text.startswith("借出给 王村医（东村卫生室）")
    assert not by_id[desk.homes[2].id].ready and by_id[desk.homes[1].id].ready
    assert by_id[desk.unshelved.id].place.address == ""
    assert [row.number for row in queue.rows] == [1, 2, 3, 4, 5]


def test_scanning_a_requested_folder_releases_it_to_the_requester(desk):
    batch = _request(desk, [desk.homes[0]], purpose="复诊")
    loan = check_out(desk.session, desk.code(desk.homes[0]), rules=desk.rules, actor=ACTOR, now=desk.clock())
    request = batch.created[0]
    assert (loan.borrower_id, loan.purpose, loan.request_id) == (desk.doctor.id, "revisit", request.id)
    assert request.status == "released" and request.loan.id == loan.id
    assert list_queue(desk.session, rules=desk.rules).rows == []
    with pytest.raises(Conflict, match="已借出给 钱医生"):  # a second scan of the released folder says where it went
        check_out(desk.session, desk.code(desk.homes[0]), rules=desk.rules, actor=ACTOR, now=desk.clock())


def test_a_folder_asked_for_by_two_people_needs_the_borrower_named(desk):
    _request(desk, [desk.homes[0]])
    _request(desk, [desk.homes[0]], borrower=desk.village_doctor)
    with pytest.raises(InvalidValue, match="2 人申请（doctor1、wang）"):
        check_out(desk.session, desk.code(desk.homes[0]), rules=desk.rules, actor=ACTOR, now=desk.clock())
    loan = check_out(desk.session, desk.code(desk.homes[0]), borrower=desk.village_doctor, rules=desk.rules,
                     actor=ACTOR, now=desk.clock())
    assert loan.borrower_id == desk.village_doctor.id
    assert len(list_queue(desk.session, rules=desk.rules).rows) == 1  # doctor1's request still waits


def test_a_folder_without_requests_needs_a_borrower(desk):
    with pytest.raises(InvalidValue) as error:
        check_out(desk.session, desk.code(desk.homes[0]), purpose="随访", rules=desk.rules, actor=ACTOR,
                  now=desk.clock())
    assert error.value.field == "借阅人"


def test_cancelling_is_idempotent_and_closed_requests_cannot_change(desk):
    request = _request(desk, [desk.homes[0]]).created[0]
    cancel_request(desk.session, request.id, reason="门诊改期", actor=ACTOR, now=desk.clock())
    assert cancel_request(desk.session, request.id, actor=ACTOR, now=desk.clock()).status == "cancelled"
    with pytest.raises(Conflict, match="已取消"):
        record_evidence(desk.session, request.id, application_ref="X", actor=ACTOR, now=desk.clock())
    assert len(_request(desk, [desk.homes[0]]).created) == 1  # asking again opens a new request


# --- the policy for outside borrowers -------------------------------------------------------------------------------

def test_an_outside_unit_needs_application_consent_and_approval_before_release(desk):
    request = _request(desk, [desk.homes[0]], borrower=desk.cdc, purpose="督导检查").created[0]
    code = desk.code(desk.homes[0])
    with pytest.raises(PermissionDenied) as error:
        check_out(desk.session, code, borrower=desk.cdc, rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert "尚缺：书面申请（申请编号）、居民或监护人同意的证明、审批" in str(error.value)
    with pytest.raises(Conflict, match="审批前请先登记：书面申请"):
        approve_request(desk.session, request.id, approver=desk.director, rules=desk.rules, actor=ACTOR,
                        now=desk.clock())
    record_evidence(desk.session, request.id, application_ref="疾控申〔2026〕3号", application_scan=PDF,
                    consent_by="guardian", consent_ref="同意书2026-07", consent_signer="张监护",
                    consent_scan=JPEG, actor=ACTOR, now=desk.clock())
    assert [(d.kind, d.media_type) for d in request.documents] == [("application", "application/pdf"),
                                                                  ("consent", "image/jpeg")]
    row, = list_queue(desk.session, rules=desk.rules).rows
    assert row.missing == ("审批",) and not row.ready
    approve_request(desk.session, request.id, approver=desk.director, opinion="同意，限室内查阅", rules=desk.rules,
                    actor=ACTOR, now=desk.clock())
    loan = check_out(desk.session, code, borrower=desk.cdc, rules=desk.rules, actor=ACTOR, now=desk.clock())
    assert loan.approver_id == desk.director.id and loan.on_site and loan.due_on == TODAY
    assert loan.purpose == "inspection"
    kinds = [e.kind for e in list_events(desk.session, "loan_request", request.id)]
    assert kinds == ["loan_request.created", "loan_request.evidence", "loan_request.approved"]
    event = list_events(desk.session, "loan_request", request.id)[1]
    assert "张监护" not in str(event.data)  # the guardian's name stays out of the change log


def test_only_users_with_approve_loans_may_approve_and_never_their_own_request(desk):
    from archiveprint.lending.borrowers import borrower_for_user

    sensitive = desk.homes[4]
    from archiveprint.register.services import set_tags

    set_tags(desk.session, desk.resident(sensitive), ["严重精神障碍"], actor=ACTOR)
    own = borrower_for_user(desk.session, desk.director, actor=ACTOR, now=desk.clock())
    request = _request(desk, [sensitive], borrower=own).created[0]
    record_evidence(desk.session, request.id, consent_by="resident", consent_ref="本人签字同意", actor=ACTOR,
                    now=desk.clock())
    with pytest.raises(PermissionDenied, match="不能审批自己的借阅申请"):
        approve_request(desk.session, request.id, approver=desk.director, rules=desk.rules, actor=ACTOR,
                        now=desk.clock())
    with pytest.raises(PermissionDenied) as error:
        approve_request(desk.session, request.id, approver=desk.doctor_user, rules=desk.rules, actor=ACTOR,
                        now=desk.clock())
    assert error.value.field == "审批人" and error.value.value == "doctor1"


def test_changing_evidence_after_approval_withdraws_the_approval(desk):
    request = _request(desk, [desk.homes[0]], borrower=desk.cdc, purpose="转诊/会诊").created[0]
    record_evidence(desk.session, request.id, application_ref="A-1", application_scan=PDF, consent_by="resident",
                    consent_ref="C-1", actor=ACTOR, now=desk.clock())
    approve_request(desk.session, request.id, approver=desk.director, rules=desk.rules, actor=ACTOR,
                    now=desk.clock())
    record_evidence(desk.session, request.id, consent_by="监护人", consent_ref="C-2", consent_signer="李某",
                    actor=ACTOR, now=desk.clock())
    assert request.approved_at is None and request.consent_by == "guardian"
    with pytest.raises(PermissionDenied, match="尚缺：审批"):
        check_out(desk.session, desk.code(desk.homes[0]), borrower=desk.cdc, rules=desk.rules, actor=ACTOR,
                  now=desk.clock())


def test_refusal_closes_the_request_with_its_reason(desk):
    request = _request(desk, [desk.homes[0]], borrower=desk.cdc, purpose="督导检查").created[0]
    with pytest.raises(InvalidValue, match="理由"):
        refuse_request(desk.session, request.id, approver=desk.director, reason="", rules=desk.rules, actor=ACTOR,
                       now=desk.clock())
    refuse_request(desk.session, request.id, approver=desk.director, reason="未附介绍信原件", rules=desk.rules,
                   actor=ACTOR, now=desk.clock())
    assert (request.status, request.closed_reason) == ("refused", "未附介绍信原件")
    with pytest.raises(PermissionDenied, match="须先登记借阅申请"):
        check_out(desk.session, desk.code(desk.homes[0]), borrower=desk.cdc, rules=desk.rules, actor=ACTOR,
                  now=desk.clock())


@pytest.mark.parametrize(("upload", "message"), [
    (Upload("a.txt", b"plain text"), "PDF、JPEG 或 PNG"),
    (Upload("a.pdf", b""), "空的"),
    (Upload("a.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024)), "超过 10 MB"),
])
def test_scans_must_be_pdf_jpeg_or_png_and_not_huge(desk, upload, message):
    request = _request(desk, [desk.homes[0]], borrower=desk.cdc, purpose="督导检查").created[0]
    with pytest.raises(InvalidValue, match=message) as error:
        record_evidence(desk.session, request.id, application_ref="A", application_scan=upload, actor=ACTOR,
                        now=desk.clock())
    assert error.value.field == "书面申请扫描件"


def test_consent_needs_who_and_a_reference(desk):
    request = _request(desk, [desk.homes[0]], borrower=desk.cdc, purpose="督导检查").created[0]
    with pytest.raises(InvalidValue, match="同意人应为"):
        record_evidence(desk.session, request.id, consent_by="neighbour", consent_ref="x", actor=ACTOR,
                        now=desk.clock())
    with pytest.raises(InvalidValue, match="监护人姓名"):
        record_evidence(desk.session, request.id, consent_by="guardian", consent_ref="x", actor=ACTOR,
                        now=desk.clock())
    with pytest.raises(InvalidValue, match="没有要登记的材料"):
        record_evidence(desk.session, request.id, actor=ACTOR, now=desk.clock())
