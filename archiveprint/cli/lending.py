"""`archiveprint lend …` and `archiveprint borrower …`: lending at the desk — requests, check-out, return, overdue."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.services import audit
from archiveprint.cli import CLI_ACTOR, Answer, AppContext, Aside, Reply, answers, pass_app, usage_error
from archiveprint.db import utcnow
from archiveprint.errors import NotFound
from archiveprint.lending.borrowers import BorrowerView, add_borrower
from archiveprint.lending.documents import print_overdue_slips, print_receipt, print_register
from archiveprint.lending.journal import ScanInput, replay_scans
from archiveprint.lending.models import LOAN_FILTERS, Loan
from archiveprint.lending.queries import (
    find_borrower,
    find_open_loan,
    list_borrowers,
    list_folder_loans,
    list_loans,
    list_overdue,
    list_queue,
    list_register,
    list_requests,
    loan_view,
    month_bounds,
    overdue_lines,
)
from archiveprint.lending.requests import (
    Upload,
    approve_request,
    cancel_request,
    expire_requests,
    expiry_reason,
    record_evidence,
    refuse_request,
    request_detail,
    request_folders,
)
from archiveprint.lending.rules import REQUIREMENTS, WEEKDAY_TEXT, LendingRules
from archiveprint.lending.services import (
    check_out,
    declare_found,
    declare_lost,
    home_address,
    renew,
    resolve,
    return_folder,
    return_view,
    write_off,
)
from archiveprint.register.services import find_village, village_refs


def _viewed(session: Session, household_id: int, what: str) -> None:
    """The command shows the household's names: an audit row, as for any view of a person's data."""
    audit(session, None, "view", "household", household_id, detail=f"cli lend {what}", now=utcnow())


def _check_output(path: Path | None) -> None:
    """Check an output path before anything is written to the database (a PDF that cannot be saved must not leave
    a loan behind without its receipt)."""
    if path is not None and not path.parent.resolve().is_dir():
        usage_error(f"输出目录不存在：{path.parent}")


# --- lend --------------------------------------------------------------------------------------------------------

@click.group("lend")
def lend_group() -> None:
    """借阅：申请、借出、归还、续借、逾期、借阅登记表。"""


@lend_group.command("out")
@click.argument("code")
@click.option("--borrower", "borrower_key", default="", help="借阅人编号或姓名（省略时放行给该档案袋的申请人）")
@click.option("--purpose", default="", help="借阅事由：复诊 随访 入户服务 转诊/会诊 督导检查 其他（或其代码）")
@click.option("--note", default="", help="事由说明（事由为“其他”时必填）")
@click.option("--on-site", is_flag=True, help="仅限档案室内查阅，当天归还")
@click.option("--receipt", type=click.Path(dir_okay=False, path_type=Path), help="同时打印借阅凭条（PDF）")
@answers("输出 JSON")
@pass_app
def lend_out(app: AppContext, code: str, borrower_key: str, purpose: str, note: str, on_site: bool,
             receipt: Path | None) -> Answer:
    """扫描档案袋或居民档案编号借出；应还日期按借阅规则计算。"""
    _check_output(receipt)
    rules, now = app.rules, utcnow()
    with app.db.transaction() as session:
        borrower = find_borrower(session, borrower_key) if borrower_key.strip() else None
        loan = check_out(session, code, borrower=borrower, purpose=purpose or None, purpose_note=note,
                         on_site=on_site, rules=rules, actor=CLI_ACTOR, now=now)
        view = loan_view(session, loan, rules)
        home = home_address(session, loan.household)
        _viewed(session, view.household_id, "out")
        if receipt is not None:
            receipt.write_bytes(print_receipt(session, loan.id, user=None, rules=rules, now=now))
    message = f"已借出给 {view.borrower}，应还 {view.due_on:%Y-%m-%d}" + ("（室内查阅）" if view.on_site else "")
    return Reply({"ok": True, **view.as_json(), "home": home or None, "receipt": str(receipt) if receipt else None,
                  "message": message},
                 [f"{view.code}  {view.folder_display}  户主 {view.head_name}", f"  {message}",
                  *([f"  借阅凭条：{receipt}"] if receipt is not None else [])])


@lend_group.command("return")
@click.argument("code")
@click.option("--condition", default="", help="归还状况：完好（默认） 缺页 破损")
@click.option("--note", default="", help="缺页、破损时写明情况")
@answers("输出 JSON")
@pass_app
def lend_return(app: AppContext, code: str, condition: str, note: str) -> Answer:
    """扫描归还（档案袋、居民编号或借阅单号）；重复扫描不算错误。告诉你档案袋应放回哪里。"""
    with app.db.transaction() as session:
        result = return_folder(session, code, condition=condition or None, note=note, rules=app.rules,
                               actor=CLI_ACTOR, now=utcnow())
        view = return_view(session, result, app.rules)
        _viewed(session, result.household.id, "return")
    return view


@lend_group.command("renew")
@click.argument("code")
@answers("输出 JSON")
@pass_app
def lend_renew(app: AppContext, code: str) -> Answer:
    """续借（档案袋、居民编号或借阅单号）：按规则延长应还日期。"""
    rules = app.rules
    with app.db.transaction() as session:
        view = loan_view(session, renew(session, code, rules=rules, actor=CLI_ACTOR, now=utcnow()), rules)
        _viewed(session, view.household_id, "renew")
    return Reply({"ok": True, **view.as_json()},
                 [f"{view.code}  {view.folder_display}  已续借（第 {view.renewals} 次），应还 {view.due_on:%Y-%m-%d}"])


@lend_group.command("overdue")
@click.option("--village", default=None, help="只列一个村(居)委会（代码或名称）")
@click.option("--date", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="按哪天计算（默认今天）")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="写出各村逾期通知单（PDF，每村一页，供村医例会发放）")
@answers("输出 JSON")
@pass_app
def lend_overdue(app: AppContext, village: str | None, as_of: datetime | None, output: Path | None) -> Answer:
    """逾期未还的档案（含已登记丢失的），按村、户排列。"""
    _check_output(output)
    rules, now = app.rules, utcnow()
    today = as_of.date() if as_of else rules.local_date(now)
    with app.db.transaction() as session:
        if village is not None:
            village = find_village(session, village, typed=True).ref
        if output is not None:
            pdf, overdue = print_overdue_slips(session, today=today, village=village, user=None, rules=rules,
                                               now=now)
            output.write_bytes(pdf)
        else:
            overdue = list_overdue(session, today=today, rules=rules, village=village)
            for household_id in dict.fromkeys(item.loan.household_id for item in overdue):
                audit(session, None, "view", "household", household_id, detail="cli lend overdue", now=now)
    return Reply({"date": today.isoformat(), "village": village, "count": len(overdue),
                  "pdf": str(output) if output else None, "loans": [item.as_json() for item in overdue]},
                 [*([] if overdue else [f"截至 {today:%Y-%m-%d} 没有逾期未还的档案。"]), *overdue_lines(overdue),
                  *([f"已写出 {output}"] if output is not None else [])])


@lend_group.command("register")
@click.option("--month", required=True, help="月份，例如 2026-11")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF 文件")
@answers("输出 JSON")
@pass_app
def lend_register(app: AppContext, month: str, output: Path) -> Answer:
    """打印某月的借阅登记表（A4 横向，档案室通用格式，含签字栏）。"""
    _check_output(output)
    with app.db.transaction() as session:
        pdf, count = print_register(session, month, user=None, rules=app.rules, now=utcnow())
        output.write_bytes(pdf)
    return Reply({"month": month.strip(), "loans": count, "pdf": str(output)},
                 [f"{month.strip()}：{count} 笔借阅，已写出 {output}"])


@lend_group.command("list")
@click.option("--month", default=None, help="借出的月份，例如 2026-11（给了 --state 时可不填：列出所有时间的）")
@click.option("--state", type=click.Choice(LOAN_FILTERS), default=None,
              help="只列一种：open 未还 / overdue 已逾期 / out 借出中 / lost 已登记丢失 / returned 已归还 / "
                   "written_off 遗失注销")
@click.option("--village", default="", help="只列一个村(居)委会（代码或名称）")
@click.option("--borrower", "borrower_key", default="", help="只列一个借阅人的")
@answers("输出 JSON")
@pass_app
def lend_list(app: AppContext, month: str | None, state: str | None, village: str, borrower_key: str) -> Answer:
    """列出借阅：某月借出的，或某种状态的（遗失注销的注明日期、原因和批准人）。"""
    rules, now = app.rules, utcnow()
    today = rules.local_date(now)
    if month is None and state is None:
        month = f"{today:%Y-%m}"
    with app.db.transaction() as session:
        village_ref = find_village(session, village, typed=True).ref if village.strip() else ""
        borrower = find_borrower(session, borrower_key).key if borrower_key.strip() else ""
        views = (list_register(session, month, rules=rules) if month is not None
                 else list_loans(session, state or "", rules=rules, today=today))
        views = [v for v in views if v.matches(village=village_ref, borrower=borrower, state=state or "",
                                                today=today)]
        for household_id in dict.fromkeys(view.household_id for view in views):
            _viewed(session, household_id, "list")
    listing = Reply.listing(views, empty="没有符合条件的借阅。")
    return Reply({"month": month, "state": state, "count": len(views), "loans": listing.data}, listing.lines)


@lend_group.command("show")
@click.argument("code")
@answers("输出 JSON")
@pass_app
def lend_show(app: AppContext, code: str) -> Answer:
    """一笔借阅（借阅单号），或一个档案袋的借阅记录（档案袋编号）：状态、归还或遗失注销（日期、原因、批准人）。"""
    with app.db.transaction() as session:
        scanned = resolve(session, code, loan_numbers=True)
        _viewed(session, scanned.household.id, "show")
        if scanned.loan_id is not None:
            loan = session.get(Loan, scanned.loan_id)
            if loan is None:
                raise NotFound("没有这笔借阅", field="借阅单号", value=code)
            view = loan_view(session, loan, app.rules)
            return Reply(view.as_json(), view.detail_lines())
        views = list_folder_loans(session, scanned.household.id, rules=app.rules)
    listing = Reply.listing(views, empty="该档案袋没有借阅记录。")
    return Reply({"household": scanned.household.id, "count": len(views), "loans": listing.data}, listing.lines)


@lend_group.command("receipt")
@click.argument("code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF 文件")
@pass_app
def lend_receipt(app: AppContext, code: str, output: Path) -> None:
    """补打借阅凭条（借阅单号，或借出中的档案袋）。"""
    _check_output(output)
    with app.db.transaction() as session:
        scanned = resolve(session, code, loan_numbers=True)
        loan_id = scanned.loan_id
        if loan_id is None:
            loan = find_open_loan(session, scanned.household.id)
            if loan is None:
                raise NotFound("该档案袋没有借出；补打旧凭条请用借阅单号", field="档案袋", value=code)
            loan_id = loan.id
        output.write_bytes(print_receipt(session, loan_id, user=None, rules=app.rules, now=utcnow()))
    click.echo(f"已写出 {output}")


# --- requests and approval -----------------------------------------------------------------------------------

@lend_group.command("request")
@click.argument("codes", nargs=-1, required=True)
@click.option("--borrower", "borrower_key", required=True, help="申请人（借阅人编号或姓名）")
@click.option("--purpose", required=True, help="借阅事由：复诊 随访 入户服务 转诊/会诊 督导检查 其他")
@click.option("--note", default="", help="事由说明")
@click.option("--for", "needed_on", type=click.DateTime(["%Y-%m-%d"]), help="哪天要用（例如明天的门诊）")
@answers("输出 JSON")
@pass_app
def lend_request(app: AppContext, codes: tuple[str, ...], borrower_key: str, purpose: str, note: str,
                 needed_on: datetime | None) -> Answer:
    """申请调阅一份或一批档案（档案袋或居民档案编号）；重复申请不会重复登记。"""
    with app.db.transaction() as session:
        batch = request_folders(session, codes, borrower=find_borrower(session, borrower_key), purpose=purpose,
                                purpose_note=note, needed_on=needed_on.date() if needed_on else None, rules=app.rules,
                                actor=CLI_ACTOR, now=utcnow())
        return Reply(batch.as_json(), [*batch.text_lines(),
                                       *(Aside(f"  未登记 {code}：{error}") for code, error in batch.problems)],
                     status=1 if batch.problems else 0)


@lend_group.command("queue")
@click.option("--for", "needed_by", type=click.DateTime(["%Y-%m-%d"]), help="只列这天（含）以前要用的")
@click.option("--borrower", "borrower_key", default="", help="只列一个申请人的")
@answers("输出 JSON")
@pass_app
def lend_queue(app: AppContext, needed_by: datetime | None, borrower_key: str) -> Answer:
    """待放行的申请，按库房行走顺序排列；扫描档案袋（lend out，不写借阅人）即放行给申请人。
    超过期限未放行的申请先关闭为“已过期”。"""
    rules, now = app.rules, utcnow()
    with app.db.transaction() as session:
        expired = expire_requests(session, rules=rules, actor=CLI_ACTOR, now=now)
        borrower_id = find_borrower(session, borrower_key).id if borrower_key.strip() else None
        queue = list_queue(session, rules=rules, needed_by=needed_by.date() if needed_by else None,
                           borrower_id=borrower_id)
        for household_id in dict.fromkeys(row.household_id for row in queue.rows):
            audit(session, None, "view", "household", household_id, detail="cli lend queue", now=now)
    closed = ([f"已关闭 {len(expired)} 份超过 {rules.request_expiry_days} 天未放行的申请（已过期）："
               + "、".join(f"#{item.request_id}" for item in expired)] if expired else [])
    return Reply({**queue.as_json(), "expired": [item.as_json() for item in expired]}, [*closed, *queue.text_lines()])


@lend_group.group("requests")
def requests_group() -> None:
    """调阅申请：列出、关闭过期的申请。"""


@requests_group.command("expire")
@click.option("--dry-run", is_flag=True, help="只列出将被关闭的申请，不做更改")
@answers("输出 JSON")
@pass_app
def requests_expire(app: AppContext, dry_run: bool) -> Answer:
    """关闭超过期限（借阅规则 request_expiry_days）仍未放行的申请，状态记为“已过期”；重复执行不会重复关闭。"""
    rules = app.rules
    with app.db.transaction() as session:
        expired = expire_requests(session, rules=rules, actor=CLI_ACTOR, now=utcnow(), dry_run=dry_run)
    data = {"dry_run": dry_run, "expiry_days": rules.request_expiry_days, "count": len(expired),
            "requests": [item.as_json() for item in expired]}
    if not rules.request_expiry_days:
        return Reply(data, ["借阅规则中 request_expiry_days 为 0：申请不会过期。"])
    if not expired:
        return Reply(data, [f"没有超过 {rules.request_expiry_days} 天未放行的申请。"])
    verb, unchanged = ("将关闭", "；未做更改（--dry-run）") if dry_run else ("已关闭", "")
    return Reply(data, [*(line for item in expired for line in item.text_lines()),
                        f"{verb} {len(expired)} 份申请（{expiry_reason(rules)}）{unchanged}"])


@requests_group.command("list")
@click.option("--borrower", "borrower_key", default="", help="只列一个申请人的")
@click.option("--status", type=click.Choice(["open", "released", "cancelled", "refused", "expired"]), default=None,
              help="只列一种状态：open 待放行 / released 已放行 / cancelled 已取消 / refused 未获批准 / expired 已过期")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="最多列出多少份（最新的在前）")
@answers("输出 JSON")
@pass_app
def requests_list(app: AppContext, borrower_key: str, status: str | None, limit: int) -> Answer:
    """列出最近的申请及其状态（含已过期的和关闭原因）。"""
    now = utcnow()
    with app.db.transaction() as session:
        borrower_id = find_borrower(session, borrower_key).id if borrower_key.strip() else None
        views = list_requests(session, rules=app.rules, borrower_id=borrower_id, status=status, limit=limit)
        for household_id in dict.fromkeys(view.household_id for view in views):
            audit(session, None, "view", "household", household_id, detail="cli lend requests list", now=now)
    listing = Reply.listing(views, empty="没有符合条件的申请。")
    return Reply({"count": len(views), "requests": listing.data}, listing.lines)


@lend_group.command("rules")
@click.option("--month", default=None, help="列出某月的闭馆日，例如 2026-10")
@answers("输出 JSON")
@pass_app
def lend_rules(app: AppContext, month: str | None) -> Answer:
    """显示生效的借阅规则：各类借阅人的期限、档案室日历（闭馆日、调休上班日）、申请过期天数。"""
    rules = app.rules
    closed = _closed_days(rules, month) if month is not None else []
    month_json = ({"month": month.strip(), "closed_days": [{"date": d, "reason": r} for d, r in closed]}
                  if month is not None else {})
    days = "、".join(f"{day[5:]} {reason}" for day, reason in closed)
    month_lines = [f"{month.strip()} 闭馆日（{len(closed)} 天）：{days or '无'}"] if month is not None else []
    return Reply({**_rules_json(rules), **month_json}, [*_rules_lines(rules), *month_lines])


def _closed_days(rules: LendingRules, month: str) -> list[tuple[str, str]]:
    """The closed days of a month ('2026-10'), with why."""
    year, number, _start, _end = month_bounds(month, rules.timezone)
    first, following = date(year, number, 1), date(year + (number == 12), number % 12 + 1, 1)
    return [(f"{day:%Y-%m-%d}", rules.calendar.closed_reason(day))
            for day in rules.calendar.closed_days(first, following - timedelta(days=1))]


def _rules_json(rules: LendingRules) -> dict[str, object]:
    kinds = {kind: {"label": rule.label, "loan_days": rule.loan_days, "renewals": rule.renewals,
                    "renewal_days": rule.renewal_days, "may_leave_building": rule.may_leave_building,
                    "own_villages_only": rule.own_villages_only,
                    "requirements": [REQUIREMENTS[r] for r in rule.requirements]}
             for kind, rule in rules.by_kind.items()}
    return {"sources": list(rules.sources), "timezone": rules.timezone, "borrowers": kinds,
            "calendar": rules.calendar.as_json(), "request_expiry_days": rules.request_expiry_days,
            "overdue_levels": list(rules.overdue_levels)}


def _rules_lines(rules: LendingRules) -> list[str]:
    calendar = rules.calendar
    lines = [f"借阅规则（{'、'.join(rules.sources)}）"]
    for rule in rules.by_kind.values():
        if rule.may_leave_building:
            terms = f"借期 {rule.loan_days} 天，可续借 {rule.renewals} 次（每次 {rule.renewal_days} 天）"
        else:
            terms = "仅限档案室内查阅，当天归还"
        extra = "；只限本人负责的村" if rule.own_villages_only else ""
        needs = f"；须{'、'.join(REQUIREMENTS[r] for r in rule.requirements)}" if rule.requirements else ""
        lines.append(f"  {rule.label}：{terms}{extra}{needs}")
    holidays = "、".join(span.text + ("（每年）" if span.yearly else "") for span in calendar.closed_dates)
    expiry = (f"超过 {rules.request_expiry_days} 天未放行的申请自动关闭（已过期）" if rules.request_expiry_days
              else "申请不会自动过期")
    return [*lines, "档案室日历（应还日期遇闭馆日顺延到下一个开放日；室内查阅当天归还）",
            f"  每周闭馆：{'、'.join(WEEKDAY_TEXT[n] for n in calendar.closed_weekdays) or '无'}",
            f"  闭馆日期：{holidays or '无'}",
            f"  调休上班：{'、'.join(s.text for s in calendar.working_dates) or '无'}",
            f"调阅申请：{expiry}",
            f"逾期通知：逾期 {'、'.join(map(str, rules.overdue_levels))} 天（按自然日计算）"]


@lend_group.command("evidence")
@click.argument("request_id")
@click.option("--application", "application_ref", default=None, help="书面申请编号")
@click.option("--application-scan", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="书面申请扫描件（PDF/JPEG/PNG）")
@click.option("--consent", "consent_by", type=click.Choice(["resident", "guardian"]), default=None,
              help="同意人：resident 居民本人 / guardian 监护人")
@click.option("--consent-ref", default=None, help="同意书编号或说明")
@click.option("--consent-signer", default="", help="监护人姓名（监护人同意时）")
@click.option("--consent-scan", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="同意书扫描件（PDF/JPEG/PNG）")
@answers("输出 JSON")
@pass_app
def lend_evidence(app: AppContext, request_id: str, application_ref: str | None, application_scan: Path | None,
                  consent_by: str | None, consent_ref: str | None, consent_signer: str,
                  consent_scan: Path | None) -> Answer:
    """登记借阅申请的材料：书面申请（编号与扫描件）、居民或监护人同意的证明。"""
    def upload(path: Path | None) -> Upload | None:
        return Upload(path.name, path.read_bytes()) if path is not None else None

    with app.db.transaction() as session:
        request = record_evidence(session, request_id, application_ref=application_ref,
                                  application_scan=upload(application_scan), consent_by=consent_by,
                                  consent_ref=consent_ref, consent_signer=consent_signer,
                                  consent_scan=upload(consent_scan), actor=CLI_ACTOR, now=utcnow())
        return _request_answer(session, request.id, app, "材料已登记")


@lend_group.command("approve")
@click.argument("request_id")
@click.option("--approver", required=True, help="审批人用户名（须有审批借阅的权限）")
@click.option("--opinion", default="", help="审批意见")
@answers("输出 JSON")
@pass_app
def lend_approve(app: AppContext, request_id: str, approver: str, opinion: str) -> Answer:
    """批准借阅申请（申请与同意材料须已登记）。"""
    with app.db.transaction() as session:
        request = approve_request(session, request_id, approver=_user(session, approver), opinion=opinion,
                                  rules=app.rules, actor=CLI_ACTOR, now=utcnow())
        return _request_answer(session, request.id, app, "已批准")


@lend_group.command("refuse")
@click.argument("request_id")
@click.option("--approver", required=True, help="审批人用户名")
@click.option("--reason", required=True, help="不批准的理由")
@answers("输出 JSON")
@pass_app
def lend_refuse(app: AppContext, request_id: str, approver: str, reason: str) -> Answer:
    """不批准借阅申请。"""
    with app.db.transaction() as session:
        request = refuse_request(session, request_id, approver=_user(session, approver), reason=reason,
                                 rules=app.rules, actor=CLI_ACTOR, now=utcnow())
        return _request_answer(session, request.id, app, "未批准")


@lend_group.command("cancel")
@click.argument("request_id")
@click.option("--reason", default="", help="原因")
@answers("输出 JSON")
@pass_app
def lend_cancel(app: AppContext, request_id: str, reason: str) -> Answer:
    """撤销借阅申请。"""
    with app.db.transaction() as session:
        request = cancel_request(session, request_id, reason=reason, actor=CLI_ACTOR, now=utcnow())
        return _request_answer(session, request.id, app, "已撤销")


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound("没有这个用户", field="审批人", value=username)
    return user


def _request_answer(session: Session, request_id: int, app: AppContext, done: str) -> Answer:
    detail = request_detail(session, request_id, app.rules)
    return Reply(detail.as_json(), detail.text_lines(done))


# --- lost and found ------------------------------------------------------------------------------------------

@lend_group.command("lost")
@click.argument("code")
@click.option("--note", required=True, help="情况说明（最后在哪里、谁经手）")
@answers("输出 JSON")
@pass_app
def lend_lost(app: AppContext, code: str, note: str) -> Answer:
    """登记丢失：借出后无法归还的档案袋，或不在架上又没有借出的（下落不明）。"""
    with app.db.transaction() as session:
        result = declare_lost(session, code, note=note, rules=app.rules, actor=CLI_ACTOR, now=utcnow())
        return Reply(result.as_json(), result.text_lines())


@lend_group.command("found")
@click.argument("code")
@click.option("--condition", default="", help="找回时的状况：完好（默认） 缺页 破损")
@click.option("--note", default="", help="缺页、破损时写明情况")
@answers("输出 JSON")
@pass_app
def lend_found(app: AppContext, code: str, condition: str, note: str) -> Answer:
    """登记找回：结束丢失的借阅（按归还处理），档案袋放回原位。"""
    with app.db.transaction() as session:
        result = declare_found(session, code, condition=condition or None, note=note, rules=app.rules,
                               actor=CLI_ACTOR, now=utcnow())
        view = return_view(session, result, app.rules)
        _viewed(session, result.household.id, "found")
    return view


@lend_group.command("write-off")
@click.argument("code")
@click.option("--reason", required=True, help="确认遗失的原因（查找经过）")
@click.option("--approved-by", "approved_by", required=True, help="批准人")
@answers("输出 JSON")
@pass_app
def lend_write_off(app: AppContext, code: str, reason: str, approved_by: str) -> Answer:
    """确认遗失/注销：登记下落不明（或借出丢失）后查找无果的档案袋移出档案室，记下原因和批准人；可随村移交。"""
    with app.db.transaction() as session:
        result = write_off(session, code, reason=reason, approved_by=approved_by, actor=CLI_ACTOR, now=utcnow())
        return Reply(result.as_json(), result.text_lines())


# --- the offline scan journal ----------------------------------------------------------------------------------

@lend_group.command("replay")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--station", default="", help="扫描站名称（记录里没有时使用）")
@answers("输出 JSON")
@pass_app
def lend_replay(app: AppContext, file: Path, station: str) -> Answer:
    """按顺序提交扫描站离线保存的扫描记录（JSON 列表）；已提交过的不会重复处理，冲突的逐条报告。"""
    if not file.is_file():
        usage_error(f"文件不存在：{file}")
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        usage_error(f"不是有效的 JSON 文件：{error}")
    items = raw.get("scans") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        usage_error("扫描记录应为 JSON 列表，或含 scans 列表的对象")
    scans = [ScanInput.from_json(item) for item in items]
    scans = [s if s.station or not station else replace(s, station=station) for s in scans]
    with app.db.transaction() as session:
        outcomes = replay_scans(session, scans, rules=app.rules, actor=CLI_ACTOR, now=utcnow())
    problems = [o for o in outcomes if not o.ok]
    return Reply({"ok": not problems, "count": len(outcomes),
                  "applied": sum(1 for o in outcomes if o.outcome == "applied"),
                  "conflicts": sum(1 for o in outcomes if o.outcome == "conflict"),
                  "scans": [o.as_json() for o in outcomes]},
                 [line for outcome in outcomes for line in outcome.text_lines()], status=1 if problems else 0)


# --- borrowers ---------------------------------------------------------------------------------------------------

@click.group("borrower")
def borrower_group() -> None:
    """借阅人：本院职工、村医（绑定负责的村）、外单位。"""


@borrower_group.command("add")
@click.argument("key")
@click.option("--kind", type=click.Choice(["staff", "village_doctor", "external"]), required=True,
              help="staff 本院职工 / village_doctor 村医 / external 外单位")
@click.option("--name", default="", help="姓名或单位名称（绑定用户时默认取用户的显示名）")
@click.option("--user", "username", default=None, help="绑定的本院用户名")
@click.option("--unit", default="", help="单位/部门（外单位必填）")
@click.option("--contact", "contact_person", default="", help="外单位联系人")
@click.option("--phone", default="", help="联系电话")
@click.option("--letter", "letter_ref", default="", help="外单位介绍信编号")
@click.option("--village", "villages", multiple=True, help="村医负责的村(居)委会（代码或名称，可重复）")
@answers("输出 JSON")
@pass_app
def borrower_add(app: AppContext, key: str, kind: str, name: str, username: str | None, unit: str,
                 contact_person: str, phone: str, letter_ref: str, villages: tuple[str, ...]) -> Answer:
    """登记借阅人：archiveprint borrower add wangys --kind village_doctor --name 王医生 --village 201"""
    with app.db.transaction() as session:
        borrower = BorrowerView.of(add_borrower(
            session, key, kind=kind, name=name, username=username, unit=unit, contact_person=contact_person,
            phone=phone, letter_ref=letter_ref, villages=village_refs(session, villages), actor=CLI_ACTOR,
            now=utcnow()))
    data = borrower.as_json()
    return Reply(data, [f"已登记借阅人 {data['key']}  {data['display']}（{data['kind_text']}）"])


@borrower_group.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="包括已停用的")
@answers("输出 JSON")
@pass_app
def borrower_list(app: AppContext, include_inactive: bool) -> Answer:
    """列出借阅人。"""
    with app.db.reader() as session:
        return Reply.listing(BorrowerView.of(b) for b in list_borrowers(session, include_inactive=include_inactive))
