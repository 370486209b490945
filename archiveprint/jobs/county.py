"""County print runs across sites (#14): one request printed for several sites of the installation, one part per
site and village, each part planned and printed in its own site's scope; the run's own row is the installation's
(site_id NULL: only a county-wide read sees it, accounts/scope.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.scope import SiteRow, installed_sites, scoped, site_scope
from archiveprint.db import Database
from archiveprint.due.packet import TITLE, PacketPlan
from archiveprint.due.queries import DueList
from archiveprint.errors import N_, ArchiveprintError, Conflict, InvalidValue, Message, NotFound
from archiveprint.forms.services import PrintOptions, resolve_scope
from archiveprint.forms.sets import FORM, SET, find_form_set
from archiveprint.jobs.models import RUN, SITES, Job
from archiveprint.jobs.parts import (
    Parts,
    RunPlan,
    check_forms_run,
    due_parts,
    due_run_plan,
    forms_parts,
    forms_run_plan,
)
from archiveprint.jobs.queue import create_job
from archiveprint.jobs.runs import add_parts, part_ids
from archiveprint.register.services import find_village

IN_SITE = N_("{site}：{message}")
PLAN_BROKEN = N_("规划打印任务时出现内部错误，没有打印任何内容，请重新提交")
DUE = "due"  # a county request for the monthly packet (本月随访包), else "set:<key>" or "form:<key>"
PLANNING = "planning"  # a county run's params: what was asked (CountyRequest), which its first step plans
ASKED_AGAIN = 20  # the clerk's latest county runs looked at for the one a second click already started
T = TypeVar("T")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class CountyChoice:
    """What a county run prints for: the sites (all active ones when none is named) and the villages of each (all
    when none is named; a village named is printed in every chosen site that has it)."""

    sites: tuple[str, ...] = ()
    villages: tuple[str, ...] = ()


def county_sites(session: Session, codes: Sequence[str]) -> list[SiteRow]:
    """The sites a county run prints for, in the installation's order: those named by code, or every active site.
    A closed site (机构撤并) is printed only when named: its records are read-only history."""
    sites = installed_sites(session)
    if not codes:
        active = [site for site in sites if not site.closed]
        if not active:
            raise NotFound("本系统还没有机构", field="机构")
        return active
    wanted = list(dict.fromkeys(code.strip() for code in codes if code.strip()))
    by_code = {site.code: site for site in sites}
    unknown = [code for code in wanted if code not in by_code]
    if unknown:
        raise NotFound("没有机构代码为 {code} 的机构（现有：{sites}）", field="机构", value=unknown[0],
                       params={"code": unknown[0], "sites": "、".join(f"{s.code}（{s.name}）" for s in sites) or "无"})
    return [site for site in sites if site.code in wanted]


@contextmanager
def in_site(database: Database, site: SiteRow) -> Iterator[Session]:
    """A read of one site, as its own users read it; an error there names the site."""
    with database.reader() as probe:
        scope = site_scope(probe, site.id)
    try:
        with scoped(database, scope).reader() as session:
            yield session
    except ArchiveprintError as error:
        error.message = Message(IN_SITE, {"site": site.name, "message": error.message})
        error.template, error.params = error.message.template, error.message.params
        raise


def _each_site(database: Database, choice: CountyChoice,
               plan_site: Callable[[Session, SiteRow, list[str] | None], T],
               progress: Progress | None = None) -> list[T]:
    """`plan_site` in each chosen site's scope, with the village codes it has of those named (None: all); a site
    that has none of the named villages is left out, and a village no chosen site has is refused. `progress` is
    told the sites planned of all."""
    with database.reader() as session:
        sites = county_sites(session, choice.sites)
    found: set[str] = set()
    planned = []
    for number, site in enumerate(sites):
        if progress is not None:
            progress(number, len(sites))
        with in_site(database, site) as session:
            codes = None
            if choice.villages:
                codes = []
                for key in choice.villages:
                    try:
                        codes.append(find_village(session, key).code)
                    except NotFound:
                        continue
                    found.add(key)
                if not codes:
                    continue
            planned.append(plan_site(session, site, codes))
    missing = [key for key in choice.villages if key not in found]
    if missing:
        raise NotFound("所选机构都没有这个村(居)委会", field="村(居)委会", value=missing[0])
    if progress is not None:
        progress(len(sites), len(sites))
    return planned


def sites_words(parts: Parts) -> tuple[str, str]:
    """The run's sites in words and in ASCII, for its title and its zip's name: 柏棠镇卫生院、诸福屯镇卫生院 5个村 /
    2sites-5villages."""
    names = list(dict.fromkeys(part.site for part, _ in parts))
    shown = "、".join(names) if len(names) <= 3 else f"{'、'.join(names[:3])}等{len(names)}个机构"
    return f"{shown} {len(parts)}个村", f"{len(names)}sites-{len(parts)}villages"


def _county_params(plan: RunPlan, choice: CountyChoice, parts: Parts) -> RunPlan:
    codes = list(dict.fromkeys(str(params.get("site_code")) for _part, params in parts))
    plan.params = {**plan.params, SITES: codes, "villages_asked": list(choice.villages)}
    return plan


def plan_county_forms(database: Database, choice: CountyChoice, set_key: str, options: PrintOptions, *,
                      set_kind: str, tag: str | None = None, population: str | None = None, today: date,
                      user_id: int | None = None, scope_text: str = "", progress: Progress | None = None) -> RunPlan:
    """A form set (or form) prefilled for each chosen site's villages, one part per site and village, each part
    planned in its site's scope (a custom set is its site's: a site without it is refused, named)."""
    first: list[Any] = []

    def plan_site(session: Session, site: SiteRow, codes: list[str] | None) -> tuple[Parts, list[str], dict[str, Any]]:
        form_set = find_form_set(session, set_key, kind=set_kind)
        scope = resolve_scope(session, tag=tag or None, population=population, form_set=form_set,
                              blank=options.blank, today=today)
        check_forms_run(scope, options)
        if not first:
            first.extend((form_set, scope))
        return forms_parts(session, form_set, scope, options, villages=codes, set_kind=set_kind, today=today,
                           user_id=user_id, scope_text=scope_text, site=site)

    planned = _each_site(database, choice, plan_site, progress)
    if not first:
        raise InvalidValue("打印范围内没有在档居民", field="打印范围")
    parts: Parts = [part for site_parts, _skipped, _missing in planned for part in site_parts]
    skipped = [name for _parts, site_skipped, _missing in planned for name in site_skipped]
    missing = {key: value for _parts, _skipped, site_missing in planned for key, value in site_missing.items()}
    form_set, scope = first
    plan = forms_run_plan(form_set, scope, options, parts, skipped, missing, set_kind=set_kind, today=today,
                          user_id=user_id, scope_text=scope_text, whose=sites_words(parts))
    return _county_params(plan, choice, parts)


def plan_county_due(database: Database, choice: CountyChoice, month: date, *, today: date,
                    user_id: int | None = None, progress: Progress | None = None) -> RunPlan:
    """The monthly packet for each chosen site's villages, one part per site and village (nobody due: left out)."""
    whole = PacketPlan(due=DueList(month=month))

    def plan_site(session: Session, site: SiteRow, codes: list[str] | None) -> tuple[Parts, list[str]]:
        parts, skipped, _whole = due_parts(session, month, villages=codes, today=today, user_id=user_id, site=site,
                                           whole=whole)
        return parts, skipped

    planned = _each_site(database, choice, plan_site, progress)
    parts: Parts = [part for site_parts, _skipped in planned for part in site_parts]
    skipped = [name for _parts, site_skipped in planned for name in site_skipped]
    whose = sites_words(parts) if parts else ("、".join(choice.sites) or "全部机构", "sites")
    plan = due_run_plan(month, parts, skipped, whole, today=today, user_id=user_id, whose=whose)
    return _county_params(plan, choice, parts)


# --- a county run planned as its first step (the web's 全县打印) ------------------------------------------------

@dataclass(frozen=True)
class CountyRequest:
    """What a clerk asked of a county run, kept on its row (params[PLANNING]) until its first step plans it."""

    what: str  # DUE, or "set:<key>" / "form:<key>"
    choice: CountyChoice
    month: date  # the packet's month (a form set's run does not read it)
    today: date
    user_id: int | None = None

    @property
    def set_kind(self) -> str:
        return FORM if self.what.partition(":")[0] == FORM else SET

    @property
    def set_key(self) -> str:
        return self.what.partition(":")[2]

    def as_json(self) -> dict[str, Any]:
        return {"what": self.what, "sites": list(self.choice.sites), "villages": list(self.choice.villages),
                "month": self.month.isoformat(), "today": self.today.isoformat(), "user_id": self.user_id}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CountyRequest:
        user_id = data.get("user_id")
        return cls(what=str(data.get("what", "")), choice=CountyChoice(
            sites=tuple(data.get("sites") or ()), villages=tuple(data.get("villages") or ())),
            month=date.fromisoformat(str(data["month"])), today=date.fromisoformat(str(data["today"])),
            user_id=None if user_id is None else int(user_id))


def plan_request(database: Database, request: CountyRequest, *, progress: Progress | None = None) -> RunPlan:
    """The run a request asks for, planned site by site (plan_county_due / plan_county_forms)."""
    if request.what == DUE:
        return plan_county_due(database, request.choice, request.month, today=request.today,
                               user_id=request.user_id, progress=progress)
    return plan_county_forms(database, request.choice, request.set_key, PrintOptions(), set_kind=request.set_kind,
                             today=request.today, user_id=request.user_id, progress=progress)


def check_request(database: Database, request: CountyRequest) -> dict[str, Any]:
    """What is refused before a run is recorded, in each chosen site's scope and without planning anyone's pages:
    a site code unknown, a village no chosen site has, a set or form a site lacks. Returns the run's params while it
    is planned: what it prints, for which sites, and the request."""
    names: list[str] = []

    def look(session: Session, site: SiteRow, _codes: list[str] | None) -> str:
        if request.what != DUE:
            names.append(find_form_set(session, request.set_key, kind=request.set_kind).name)
        return site.code

    codes = _each_site(database, request.choice, look)
    kind = "due" if request.what == DUE else "forms"
    shown = f"{request.month:%Y-%m}，" if kind == "due" else ""
    return {"kind": kind, SITES: codes, PLANNING: request.as_json(), "user_id": request.user_id,
            "today": request.today.isoformat(), "set_name": names[0] if names else TITLE,
            "scope_text": shown + ("、".join(request.choice.villages) or "全部村"),
            **({"month": f"{request.month:%Y-%m}"} if kind == "due" else {})}


def record_request(session: Session, params: dict[str, Any], *, actor: str, once: str) -> tuple[int, bool]:
    """Record a checked request as a run to plan (queued, no parts yet), or find the run the same form already
    started (`once`: the form's one-time token) — two clicks on 开始打印, or two requests racing, give one run: the
    clerk's own row is locked while looking (PostgreSQL). Returns the run's id and whether it is new."""
    user_id = params.get("user_id")
    if user_id is not None:
        session.execute(select(User.id).where(User.id == int(user_id)).with_for_update())
    jobs = Job.__table__  # read from the table: the run is the installation's, whatever site the clerk is in
    if once:
        for job_id, job_params in session.execute(select(jobs.c.id, jobs.c.params).where(
                jobs.c.kind == RUN, jobs.c.created_by == actor).order_by(jobs.c.id.desc()).limit(ASKED_AGAIN)):
            if (job_params or {}).get("once") == once and _same(job_params.get(PLANNING), params[PLANNING]):
                return job_id, False
    run = create_job(session, RUN, {**params, "once": once}, actor=actor, site_id=None)
    return run.id, True


def _same(asked: dict[str, Any] | None, again: dict[str, Any]) -> bool:
    """The same request (on another day too: a form sent again after midnight)."""
    return {**(asked or {}), "today": ""} == {**again, "today": ""}


def plan_run(database: Database, run_id: int, *, progress: Progress | None = None) -> list[int]:
    """A county run's first step: plan what it asked, site by site, then record its parts (queued, the run queued
    again until one starts) in one transaction; returns their ids, in the order to hand them on. A refusal (a site
    closed meanwhile, nobody to print, a name the font lacks) is raised, for the run to end failed saying so."""
    with database.reader() as session:
        run = session.get(Job, run_id)
        if run is None or PLANNING not in (run.params or {}):
            raise NotFound("没有这个全县打印任务", field="任务", value=run_id)
        asked, actor = dict(run.params), run.created_by
    plan = plan_request(database, CountyRequest.from_json(asked[PLANNING]), progress=progress)
    with database.transaction() as session:
        run = session.scalars(select(Job).where(Job.id == run_id).with_for_update()).one()
        if run.status != "running":
            raise Conflict("全县打印任务已被标记为中断，没有打印任何内容，请重新提交", field="任务", value=run_id)
        kept = {key: asked[key] for key in (PLANNING, "once") if key in asked}
        add_parts(session, run, plan.kind, {**plan.params, **kept, "skipped": plan.skipped}, plan.parts, actor=actor)
        run.status, run.done, run.started_at, run.rq_id = "queued", 0, None, None  # RQ's job for it ends here
        return part_ids(session, run_id)
