"""`archiveprint lend …` and `archiveprint borrower …`: lending at the desk — requests, check-out, return, overdue."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from archiveprint.cli import AppContext, emit_json, pass_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from archiveprint.accounts.models import User
    from archiveprint.lending.models import Borrower
    from archiveprint.lending.rules import LendingRules
    from archiveprint.lending.services import ReturnResult

CLI_ACTOR = "cli"


def _rules(app: AppContext) -> LendingRules:
    from archiveprint.lending.rules import site_rules

    return site_rules(app.settings.instance_dir)


def _now() -> datetime:
    from archiveprint.db import utcnow

    return utcnow()


def _usage_error(ctx: click.Context, message: str, as_json: bool) -> NoReturn:
    """Bad command-line input that is not a domain error: exit 2, like click's own usage errors."""
    if as_json:
        emit_json({"error": message})
    else:
        click.secho(f"错误：{message}", fg="red", err=True)
    ctx.exit(2)


def _viewed(session: Session, household_id: int, what: str) -> None:
    """The command shows the household's names: an audit row, as for any view of a person's data."""
    from archiveprint.accounts.services import audit

    audit(session, None, "view", "household", household_id, detail=f"cli lend {what}", now=_now())


def _check_output(ctx: click.Context, path: Path | None, as_json: bool) -> None:
    """Check an output path before anything is written to the database (a PDF that cannot be saved must not leave
    a loan behind without its receipt)."""
    if path is not None and not path.parent.resolve().is_dir():
        _usage_error(ctx, f"输出目录不存在：{path.parent}", as_json)


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
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_out(ctx: click.Context, app: AppContext, code: str, borrower_key: str, purpose: str, note: str,
             on_site: bool, receipt: Path | None, as_json: bool) -> None:
    """扫描档案袋或居民档案编号借出；应还日期按借阅规则计算。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.documents import print_receipt
    from archiveprint.lending.queries import find_borrower, loan_view
    from archiveprint.lending.services import check_out, home_address

    _check_output(ctx, receipt, as_json)
    rules, now = _rules(app), _now()
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
    if as_json:
        emit_json({"ok": True, **view.as_json(), "home": home or None, "receipt": str(receipt) if receipt else None,
                   "message": message})
        return
    click.echo(f"{view.code}  {view.folder_display}  户主 {view.head_name}")
    click.echo(f"  {message}")
    if receipt is not None:
        click.echo(f"  借阅凭条：{receipt}")


@lend_group.command("return")
@click.argument("code")
@click.option("--condition", default="", help="归还状况：完好（默认） 缺页 破损")
@click.option("--note", default="", help="缺页、破损时写明情况")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_return(ctx: click.Context, app: AppContext, code: str, condition: str, note: str, as_json: bool) -> None:
    """扫描归还（档案袋、居民编号或借阅单号）；重复扫描不算错误。告诉你档案袋应放回哪里。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.services import return_folder

    rules = _rules(app)
    with app.db.transaction() as session:
        result = return_folder(session, code, condition=condition or None, note=note, rules=rules, actor=CLI_ACTOR,
                               now=_now())
        data = _return_json(session, result, rules)
        _viewed(session, result.household.id, "return")
    _show_return(data, as_json)


def _return_json(session: Session, result: ReturnResult, rules: LendingRules) -> dict[str, object]:
    from archiveprint.lending.queries import folder_display, loan_view

    return {"ok": True, "outcome": result.outcome, "changed": result.changed, "message": result.message,
            "folder_display": folder_display(result.household), "home": result.home or None,
            "loan": loan_view(session, result.loan, rules).as_json() if result.loan else None}


def _show_return(data: dict[str, object], as_json: bool) -> None:
    if as_json:
        emit_json(data)
        return
    click.echo(f"{data['folder_display']}  {data['message']}")


@lend_group.command("renew")
@click.argument("code")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_renew(ctx: click.Context, app: AppContext, code: str, as_json: bool) -> None:
    """续借（档案袋、居民编号或借阅单号）：按规则延长应还日期。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.queries import loan_view
    from archiveprint.lending.services import renew

    rules = _rules(app)
    with app.db.transaction() as session:
        view = loan_view(session, renew(session, code, rules=rules, actor=CLI_ACTOR, now=_now()), rules)
        _viewed(session, view.household_id, "renew")
    if as_json:
        emit_json({"ok": True, **view.as_json()})
        return
    click.echo(f"{view.code}  {view.folder_display}  已续借（第 {view.renewals} 次），应还 {view.due_on:%Y-%m-%d}")


@lend_group.command("overdue")
@click.option("--village", default=None, help="只列一个村(居)委会（代码或名称）")
@click.option("--date", "as_of", type=click.DateTime(["%Y-%m-%d"]), help="按哪天计算（默认今天）")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="写出各村逾期通知单（PDF，每村一页，供村医例会发放）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_overdue(ctx: click.Context, app: AppContext, village: str | None, as_of: datetime | None,
                 output: Path | None, as_json: bool) -> None:
    """逾期未还的档案（含已登记丢失的），按村、户排列。"""
    ctx.meta["json"] = as_json
    from archiveprint.accounts.services import audit
    from archiveprint.lending.documents import print_overdue_slips
    from archiveprint.lending.queries import list_overdue

    _check_output(ctx, output, as_json)
    rules, now = _rules(app), _now()
    today = as_of.date() if as_of else rules.local_date(now)
    with app.db.transaction() as session:
        if village is not None:
            from archiveprint.register.services import find_village

            village = find_village(session, village).code
        if output is not None:
            pdf, overdue = print_overdue_slips(session, today=today, village=village, user=None, rules=rules,
                                               now=now)
            output.write_bytes(pdf)
        else:
            overdue = list_overdue(session, today=today, rules=rules, village=village)
            for household_id in dict.fromkeys(item.loan.household_id for item in overdue):
                audit(session, None, "view", "household", household_id, detail="cli lend overdue", now=now)
    if as_json:
        emit_json({"date": today.isoformat(), "village": village, "count": len(overdue),
                   "pdf": str(output) if output else None, "loans": [item.as_json() for item in overdue]})
        return
    if not overdue:
        click.echo(f"截至 {today:%Y-%m-%d} 没有逾期未还的档案。")
    current = None
    for item in overdue:
        view = item.loan
        if view.village != current:
            current = view.village
            click.echo(f"{view.village} {view.village_name}")
        lost = "（已登记丢失）" if view.state == "lost" else ""
        click.echo(f"  {view.folder_display}  {view.head_name}  {view.borrower}  应还 {view.due_on:%Y-%m-%d}  "
                   f"逾期 {item.days_late} 天{lost}")
    if output is not None:
        click.echo(f"已写出 {output}")


@lend_group.command("register")
@click.option("--month", required=True, help="月份，例如 2026-11")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF 文件")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_register(ctx: click.Context, app: AppContext, month: str, output: Path, as_json: bool) -> None:
    """打印某月的借阅登记表（A4 横向，档案室通用格式，含签字栏）。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.documents import print_register

    _check_output(ctx, output, as_json)
    rules = _rules(app)
    with app.db.transaction() as session:
        pdf, count = print_register(session, month, user=None, rules=rules, now=_now())
        output.write_bytes(pdf)
    if as_json:
        emit_json({"month": month.strip(), "loans": count, "pdf": str(output)})
        return
    click.echo(f"{month.strip()}：{count} 笔借阅，已写出 {output}")


@lend_group.command("receipt")
@click.argument("code")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="PDF 文件")
@pass_app
@click.pass_context
def lend_receipt(ctx: click.Context, app: AppContext, code: str, output: Path) -> None:
    """补打借阅凭条（借阅单号，或借出中的档案袋）。"""
    from archiveprint.errors import NotFound
    from archiveprint.lending.documents import print_receipt
    from archiveprint.lending.queries import find_open_loan
    from archiveprint.lending.services import resolve

    _check_output(ctx, output, False)
    rules = _rules(app)
    with app.db.transaction() as session:
        scanned = resolve(session, code, loan_numbers=True)
        loan_id = scanned.loan_id
        if loan_id is None:
            loan = find_open_loan(session, scanned.household.id)
            if loan is None:
                raise NotFound("该档案袋没有借出；补打旧凭条请用借阅单号", field="档案袋", value=code)
            loan_id = loan.id
        output.write_bytes(print_receipt(session, loan_id, user=None, rules=rules, now=_now()))
    click.echo(f"已写出 {output}")


# --- requests and approval -----------------------------------------------------------------------------------

@lend_group.command("request")
@click.argument("codes", nargs=-1, required=True)
@click.option("--borrower", "borrower_key", required=True, help="申请人（借阅人编号或姓名）")
@click.option("--purpose", required=True, help="借阅事由：复诊 随访 入户服务 转诊/会诊 督导检查 其他")
@click.option("--note", default="", help="事由说明")
@click.option("--for", "needed_on", type=click.DateTime(["%Y-%m-%d"]), help="哪天要用（例如明天的门诊）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_request(ctx: click.Context, app: AppContext, codes: tuple[str, ...], borrower_key: str, purpose: str,
                 note: str, needed_on: datetime | None, as_json: bool) -> None:
    """申请调阅一份或一批档案（档案袋或居民档案编号）；重复申请不会重复登记。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.queries import find_borrower, folder_display
    from archiveprint.lending.requests import request_folders

    rules = _rules(app)
    with app.db.transaction() as session:
        borrower = find_borrower(session, borrower_key)
        batch = request_folders(session, codes, borrower=borrower, purpose=purpose, purpose_note=note,
                                needed_on=needed_on.date() if needed_on else None, rules=rules, actor=CLI_ACTOR,
                                now=_now())
        rows = [{"request": r.id, "folder_display": folder_display(r.household), "new": r in batch.created,
                 "needed_on": r.needed_on.isoformat() if r.needed_on else None} for r in batch.requests]
    problems = [{"code": code, "error": error} for code, error in batch.problems]
    if as_json:
        emit_json({"ok": not problems, "created": len(batch.created), "existing": len(batch.existing),
                   "requests": rows, "problems": problems})
    else:
        for row in rows:
            state = "已登记" if row["new"] else "已有申请（未重复登记）"
            click.echo(f"申请 #{row['request']}  {row['folder_display']}  {state}")
        for problem in problems:
            click.secho(f"  未登记 {problem['code']}：{problem['error']}", fg="yellow", err=True)
    ctx.exit(1 if problems else 0)


@lend_group.command("queue")
@click.option("--for", "needed_by", type=click.DateTime(["%Y-%m-%d"]), help="只列这天（含）以前要用的")
@click.option("--borrower", "borrower_key", default="", help="只列一个申请人的")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_queue(ctx: click.Context, app: AppContext, needed_by: datetime | None, borrower_key: str,
               as_json: bool) -> None:
    """待放行的申请，按库房行走顺序排列；扫描档案袋（lend out，不写借阅人）即放行给申请人。
    超过期限未放行的申请先关闭为“已过期”。"""
    ctx.meta["json"] = as_json
    from archiveprint.accounts.services import audit
    from archiveprint.lending.queries import find_borrower, list_queue
    from archiveprint.lending.requests import expire_requests

    rules, now = _rules(app), _now()
    with app.db.transaction() as session:
        expired = expire_requests(session, rules=rules, actor=CLI_ACTOR, now=now)
        borrower_id = find_borrower(session, borrower_key).id if borrower_key.strip() else None
        queue = list_queue(session, rules=rules, needed_by=needed_by.date() if needed_by else None,
                           borrower_id=borrower_id)
        for household_id in dict.fromkeys(row.household_id for row in queue.rows):
            audit(session, None, "view", "household", household_id, detail="cli lend queue", now=now)
    if as_json:
        emit_json({**queue.as_json(), "expired": [item.as_json() for item in expired]})
        return
    if expired:
        click.echo(f"已关闭 {len(expired)} 份超过 {rules.request_expiry_days} 天未放行的申请（已过期）："
                   + "、".join(f"#{item.request_id}" for item in expired))
    if not queue.rows:
        click.echo("没有待放行的申请。")
    for row in queue.rows:
        waiting = "" if row.ready else f"  [{'、'.join(row.missing) or row.place.status.text}]"
        click.echo(f"{row.number:>3}. {row.place.address or '—':<28} {row.folder_display}  {row.head_name}  "
                   f"→ {row.borrower}（{row.purpose_text}）  #{row.request_id}{waiting}")


@lend_group.group("requests")
def requests_group() -> None:
    """调阅申请：列出、关闭过期的申请。"""


@requests_group.command("expire")
@click.option("--dry-run", is_flag=True, help="只列出将被关闭的申请，不做更改")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def requests_expire(ctx: click.Context, app: AppContext, dry_run: bool, as_json: bool) -> None:
    """关闭超过期限（借阅规则 request_expiry_days）仍未放行的申请，状态记为“已过期”；重复执行不会重复关闭。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.requests import expire_requests, expiry_reason

    rules = _rules(app)
    with app.db.transaction() as session:
        expired = expire_requests(session, rules=rules, actor=CLI_ACTOR, now=_now(), dry_run=dry_run)
    if as_json:
        emit_json({"dry_run": dry_run, "expiry_days": rules.request_expiry_days, "count": len(expired),
                   "requests": [item.as_json() for item in expired]})
        return
    if not rules.request_expiry_days:
        click.echo("借阅规则中 request_expiry_days 为 0：申请不会过期。")
        return
    if not expired:
        click.echo(f"没有超过 {rules.request_expiry_days} 天未放行的申请。")
        return
    for item in expired:
        needed = f"  用档 {item.needed_on:%Y-%m-%d}" if item.needed_on else ""
        click.echo(f"申请 #{item.request_id}  {item.folder_display}  {item.borrower}  申请于 {item.asked_on:%Y-%m-%d}"
                   f"{needed}")
    verb = "将关闭" if dry_run else "已关闭"
    unchanged = "；未做更改（--dry-run）" if dry_run else ""
    click.echo(f"{verb} {len(expired)} 份申请（{expiry_reason(rules)}）{unchanged}")


@requests_group.command("list")
@click.option("--borrower", "borrower_key", default="", help="只列一个申请人的")
@click.option("--status", type=click.Choice(["open", "released", "cancelled", "refused", "expired"]), default=None,
              help="只列一种状态：open 待放行 / released 已放行 / cancelled 已取消 / refused 未获批准 / expired 已过期")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True,
              help="最多列出多少份（最新的在前）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def requests_list(ctx: click.Context, app: AppContext, borrower_key: str, status: str | None, limit: int,
                  as_json: bool) -> None:
    """列出最近的申请及其状态（含已过期的和关闭原因）。"""
    ctx.meta["json"] = as_json
    from archiveprint.accounts.services import audit
    from archiveprint.lending.queries import find_borrower, list_requests

    rules, now = _rules(app), _now()
    with app.db.transaction() as session:
        borrower_id = find_borrower(session, borrower_key).id if borrower_key.strip() else None
        views = list_requests(session, rules=rules, borrower_id=borrower_id, status=status, limit=limit)
        for household_id in dict.fromkeys(view.household_id for view in views):
            audit(session, None, "view", "household", household_id, detail="cli lend requests list", now=now)
    if as_json:
        emit_json({"count": len(views), "requests": [view.as_json() for view in views]})
        return
    if not views:
        click.echo("没有符合条件的申请。")
    for view in views:
        reason = f"（{view.closed_reason}）" if view.closed_reason else ""
        click.echo(f"#{view.request_id}  {view.folder_display}  {view.head_name}  {view.borrower_key}  "
                   f"申请于 {view.asked_at:%Y-%m-%d}  {view.status_text}{reason}")


@lend_group.command("rules")
@click.option("--month", default=None, help="列出某月的闭馆日，例如 2026-10")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_rules(ctx: click.Context, app: AppContext, month: str | None, as_json: bool) -> None:
    """显示生效的借阅规则：各类借阅人的期限、档案室日历（闭馆日、调休上班日）、申请过期天数。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.queries import month_bounds
    from archiveprint.lending.rules import REQUIREMENTS, WEEKDAY_TEXT

    rules = _rules(app)
    calendar = rules.calendar
    closed: list[tuple[str, str]] = []
    if month is not None:
        year, number, _start, _end = month_bounds(month, rules.timezone)
        first, following = date(year, number, 1), date(year + (number == 12), number % 12 + 1, 1)
        closed = [(f"{day:%Y-%m-%d}", calendar.closed_reason(day))
                  for day in calendar.closed_days(first, following - timedelta(days=1))]
    kinds = {kind: {"label": rule.label, "loan_days": rule.loan_days, "renewals": rule.renewals,
                    "renewal_days": rule.renewal_days, "may_leave_building": rule.may_leave_building,
                    "own_villages_only": rule.own_villages_only,
                    "requirements": [REQUIREMENTS[r] for r in rule.requirements]}
             for kind, rule in rules.by_kind.items()}
    if as_json:
        emit_json({"sources": list(rules.sources), "timezone": rules.timezone, "borrowers": kinds,
                   "calendar": calendar.as_json(), "request_expiry_days": rules.request_expiry_days,
                   "overdue_levels": list(rules.overdue_levels),
                   **({"month": month.strip(), "closed_days": [{"date": d, "reason": r} for d, r in closed]}
                      if month is not None else {})})
        return
    click.echo(f"借阅规则（{'、'.join(rules.sources)}）")
    for rule in rules.by_kind.values():
        if rule.may_leave_building:
            terms = f"借期 {rule.loan_days} 天，可续借 {rule.renewals} 次（每次 {rule.renewal_days} 天）"
        else:
            terms = "仅限档案室内查阅，当天归还"
        extra = "；只限本人负责的村" if rule.own_villages_only else ""
        needs = f"；须{'、'.join(REQUIREMENTS[r] for r in rule.requirements)}" if rule.requirements else ""
        click.echo(f"  {rule.label}：{terms}{extra}{needs}")
    click.echo("档案室日历（应还日期遇闭馆日顺延到下一个开放日；室内查阅当天归还）")
    click.echo(f"  每周闭馆：{'、'.join(WEEKDAY_TEXT[n] for n in calendar.closed_weekdays) or '无'}")
    holidays = "、".join(span.text + ("（每年）" if span.yearly else "") for span in calendar.closed_dates)
    click.echo(f"  闭馆日期：{holidays or '无'}")
    click.echo(f"  调休上班：{'、'.join(s.text for s in calendar.working_dates) or '无'}")
    expiry = (f"超过 {rules.request_expiry_days} 天未放行的申请自动关闭（已过期）" if rules.request_expiry_days
              else "申请不会自动过期")
    click.echo(f"调阅申请：{expiry}")
    click.echo(f"逾期通知：逾期 {'、'.join(map(str, rules.overdue_levels))} 天（按自然日计算）")
    if month is not None:
        days = "、".join(f"{day[5:]} {reason}" for day, reason in closed)
        click.echo(f"{month.strip()} 闭馆日（{len(closed)} 天）：{days or '无'}")


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
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_evidence(ctx: click.Context, app: AppContext, request_id: str, application_ref: str | None,
                  application_scan: Path | None, consent_by: str | None, consent_ref: str | None,
                  consent_signer: str, consent_scan: Path | None, as_json: bool) -> None:
    """登记借阅申请的材料：书面申请（编号与扫描件）、居民或监护人同意的证明。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.requests import Upload, record_evidence

    def upload(path: Path | None) -> Upload | None:
        return Upload(path.name, path.read_bytes()) if path is not None else None

    with app.db.transaction() as session:
        request = record_evidence(session, request_id, application_ref=application_ref,
                                  application_scan=upload(application_scan), consent_by=consent_by,
                                  consent_ref=consent_ref, consent_signer=consent_signer,
                                  consent_scan=upload(consent_scan), actor=CLI_ACTOR, now=_now())
        data = _request_json(session, request.id, app)
    _show_request(data, as_json, "材料已登记")


@lend_group.command("approve")
@click.argument("request_id")
@click.option("--approver", required=True, help="审批人用户名（须有审批借阅的权限）")
@click.option("--opinion", default="", help="审批意见")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_approve(ctx: click.Context, app: AppContext, request_id: str, approver: str, opinion: str,
                 as_json: bool) -> None:
    """批准借阅申请（申请与同意材料须已登记）。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.requests import approve_request

    with app.db.transaction() as session:
        request = approve_request(session, request_id, approver=_user(session, approver), opinion=opinion,
                                  rules=_rules(app), actor=CLI_ACTOR, now=_now())
        data = _request_json(session, request.id, app)
    _show_request(data, as_json, "已批准")


@lend_group.command("refuse")
@click.argument("request_id")
@click.option("--approver", required=True, help="审批人用户名")
@click.option("--reason", required=True, help="不批准的理由")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_refuse(ctx: click.Context, app: AppContext, request_id: str, approver: str, reason: str,
                as_json: bool) -> None:
    """不批准借阅申请。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.requests import refuse_request

    with app.db.transaction() as session:
        request = refuse_request(session, request_id, approver=_user(session, approver), reason=reason,
                                 rules=_rules(app), actor=CLI_ACTOR, now=_now())
        data = _request_json(session, request.id, app)
    _show_request(data, as_json, "未批准")


@lend_group.command("cancel")
@click.argument("request_id")
@click.option("--reason", default="", help="原因")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_cancel(ctx: click.Context, app: AppContext, request_id: str, reason: str, as_json: bool) -> None:
    """撤销借阅申请。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.requests import cancel_request

    with app.db.transaction() as session:
        request = cancel_request(session, request_id, reason=reason, actor=CLI_ACTOR, now=_now())
        data = _request_json(session, request.id, app)
    _show_request(data, as_json, "已撤销")


def _user(session: Session, username: str) -> User:
    from sqlalchemy import select

    from archiveprint.accounts.models import User
    from archiveprint.errors import NotFound

    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise NotFound("没有这个用户", field="审批人", value=username)
    return user


def _request_json(session: Session, request_id: int, app: AppContext) -> dict[str, object]:
    from archiveprint.lending.queries import find_request, folder_display, request_missing
    from archiveprint.lending.services import rule_for

    rules = _rules(app)
    request = find_request(session, request_id)
    rule = rule_for(session, rules, request.borrower.kind, request.household)
    missing = request_missing(request, rule, rules) if request.status == "open" else []
    return {"ok": True, "request": request.id, "status": request.status, "borrower": request.borrower.key,
            "folder_display": folder_display(request.household), "purpose": request.purpose,
            "application_ref": request.application_ref or None, "consent_by": request.consent_by or None,
            "consent_ref": request.consent_ref or None,
            "documents": [{"kind": d.kind, "filename": d.filename, "sha256": d.sha256} for d in request.documents],
            "approver": request.approver.username if request.approver else None, "missing": missing,
            "ready": request.status == "open" and not missing}


def _show_request(data: dict[str, object], as_json: bool, done: str) -> None:
    if as_json:
        emit_json(data)
        return
    click.echo(f"申请 #{data['request']}  {data['folder_display']}  {done}")
    missing = [str(m) for m in data["missing"]]  # type: ignore[attr-defined]
    if missing:
        click.echo(f"  放行前尚缺：{'、'.join(missing)}")
    elif data["ready"]:
        click.echo("  材料齐全，可以放行（扫描档案袋：archiveprint lend out 编号）")


# --- lost and found ------------------------------------------------------------------------------------------

@lend_group.command("lost")
@click.argument("code")
@click.option("--note", required=True, help="情况说明（最后在哪里、谁经手）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_lost(ctx: click.Context, app: AppContext, code: str, note: str, as_json: bool) -> None:
    """登记丢失：借出后无法归还的档案袋，或不在架上又没有借出的（下落不明）。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.queries import folder_display, loan_code
    from archiveprint.lending.services import declare_lost

    with app.db.transaction() as session:
        result = declare_lost(session, code, note=note, rules=_rules(app), actor=CLI_ACTOR, now=_now())
        data = {"ok": True, "changed": result.changed, "message": result.message,
                "folder_display": folder_display(result.household),
                "loan_code": loan_code(result.loan.id) if result.loan else None}
    if as_json:
        emit_json(data)
        return
    click.echo(f"{data['folder_display']}  {data['message']}")


@lend_group.command("found")
@click.argument("code")
@click.option("--condition", default="", help="找回时的状况：完好（默认） 缺页 破损")
@click.option("--note", default="", help="缺页、破损时写明情况")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_found(ctx: click.Context, app: AppContext, code: str, condition: str, note: str, as_json: bool) -> None:
    """登记找回：结束丢失的借阅（按归还处理），档案袋放回原位。"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.services import declare_found

    rules = _rules(app)
    with app.db.transaction() as session:
        result = declare_found(session, code, condition=condition or None, note=note, rules=rules, actor=CLI_ACTOR,
                               now=_now())
        data = _return_json(session, result, rules)
        _viewed(session, result.household.id, "found")
    _show_return(data, as_json)


# --- the offline scan journal ----------------------------------------------------------------------------------

@lend_group.command("replay")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--station", default="", help="扫描站名称（记录里没有时使用）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def lend_replay(ctx: click.Context, app: AppContext, file: Path, station: str, as_json: bool) -> None:
    """按顺序提交扫描站离线保存的扫描记录（JSON 列表）；已提交过的不会重复处理，冲突的逐条报告。"""
    ctx.meta["json"] = as_json
    from dataclasses import replace

    from archiveprint.lending.journal import ScanInput, replay_scans

    if not file.is_file():
        _usage_error(ctx, f"文件不存在：{file}", as_json)
    try:
        raw = json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        _usage_error(ctx, f"不是有效的 JSON 文件：{error}", as_json)
    items = raw.get("scans") if isinstance(raw, dict) else raw
    if not isinstance(items, list):
        _usage_error(ctx, "扫描记录应为 JSON 列表，或含 scans 列表的对象", as_json)
    scans = [ScanInput.from_json(item) for item in items]
    scans = [s if s.station or not station else replace(s, station=station) for s in scans]
    with app.db.transaction() as session:
        outcomes = replay_scans(session, scans, rules=_rules(app), actor=CLI_ACTOR, now=_now())
    problems = [o for o in outcomes if not o.ok]
    if as_json:
        emit_json({"ok": not problems, "count": len(outcomes),
                   "applied": sum(1 for o in outcomes if o.outcome == "applied"),
                   "conflicts": sum(1 for o in outcomes if o.outcome == "conflict"),
                   "scans": [o.as_json() for o in outcomes]})
    else:
        for outcome in outcomes:
            again = "（此前已提交）" if outcome.replayed else ""
            click.echo(f"{outcome.client_id}  {outcome.action:<6} {outcome.code}  {outcome.outcome}{again}  "
                       f"{outcome.message}")
    ctx.exit(1 if problems else 0)


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
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
@click.pass_context
def borrower_add(ctx: click.Context, app: AppContext, key: str, kind: str, name: str, username: str | None,
                 unit: str, contact_person: str, phone: str, letter_ref: str, villages: tuple[str, ...],
                 as_json: bool) -> None:
    """登记借阅人：archiveprint borrower add wangys --kind village_doctor --name 王医生 --village 201"""
    ctx.meta["json"] = as_json
    from archiveprint.lending.borrowers import add_borrower

    with app.db.transaction() as session:
        borrower = add_borrower(session, key, kind=kind, name=name, username=username, unit=unit,
                                contact_person=contact_person, phone=phone, letter_ref=letter_ref,
                                villages=villages, actor=CLI_ACTOR, now=_now())
        data = _borrower_json(borrower)
    if as_json:
        emit_json(data)
        return
    click.echo(f"已登记借阅人 {data['key']}  {data['display']}（{data['kind_text']}）")


@borrower_group.command("list")
@click.option("--all", "include_inactive", is_flag=True, help="包括已停用的")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@pass_app
def borrower_list(app: AppContext, include_inactive: bool, as_json: bool) -> None:
    """列出借阅人。"""
    from archiveprint.lending.borrowers import KIND_TEXT
    from archiveprint.lending.queries import list_borrowers

    with app.db.reader() as session:
        borrowers = list_borrowers(session, include_inactive=include_inactive)
        rows = [_borrower_json(b) for b in borrowers]
        lines = [f"{b.key}\t{b.display}\t{KIND_TEXT[b.kind]}"
                 + (f"  村：{'、'.join(v.name for v in b.villages)}" if b.villages else "")
                 + ("" if b.active else "（已停用）") for b in borrowers]
    if as_json:
        emit_json(rows)
        return
    for line in lines:
        click.echo(line)


def _borrower_json(borrower: Borrower) -> dict[str, object]:
    from archiveprint.lending.borrowers import KIND_TEXT

    return {"key": borrower.key, "kind": borrower.kind, "kind_text": KIND_TEXT[borrower.kind],
            "name": borrower.name, "display": borrower.display, "unit": borrower.unit,
            "user": borrower.user.username if borrower.user else None, "contact_person": borrower.contact_person,
            "phone": borrower.phone, "letter_ref": borrower.letter_ref,
            "villages": [v.code for v in borrower.villages], "active": borrower.active}
