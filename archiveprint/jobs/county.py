"""County print runs across sites (#14): one request printed for several sites of the installation, one part per
site and village, each part planned and printed in its own site's scope; the run's own row is the installation's
(site_id NULL: only a county-wide read sees it, accounts/scope.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from archiveprint.accounts.scope import SiteRow, installed_sites, scoped, site_scope
from archiveprint.db import Database
from archiveprint.due.packet import PacketPlan
from archiveprint.due.queries import DueList
from archiveprint.errors import N_, ArchiveprintError, InvalidValue, Message, NotFound
from archiveprint.forms.services import PrintOptions, resolve_scope
from archiveprint.forms.sets import find_form_set
from archiveprint.jobs.models import SITES
from archiveprint.jobs.parts import (
    Parts,
    RunPlan,
    check_forms_run,
    due_parts,
    due_run_plan,
    forms_parts,
    forms_run_plan,
)
from archiveprint.register.services import find_village

IN_SITE = N_("{site}：{message}")
T = TypeVar("T")


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
               plan_site: Callable[[Session, SiteRow, list[str] | None], T]) -> list[T]:
    """`plan_site` in each chosen site's scope, with the village codes it has of those named (None: all); a site
    that has none of the named villages is left out, and a village no chosen site has is refused."""
    with database.reader() as session:
        sites = county_sites(session, choice.sites)
    found: set[str] = set()
    planned = []
    for site in sites:
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
                      user_id: int | None = None, scope_text: str = "") -> RunPlan:
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

    planned = _each_site(database, choice, plan_site)
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
                    user_id: int | None = None) -> RunPlan:
    """The monthly packet for each chosen site's villages, one part per site and village (nobody due: left out)."""
    whole = PacketPlan(due=DueList(month=month))

    def plan_site(session: Session, site: SiteRow, codes: list[str] | None) -> tuple[Parts, list[str]]:
        parts, skipped, _whole = due_parts(session, month, villages=codes, today=today, user_id=user_id, site=site,
                                           whole=whole)
        return parts, skipped

    planned = _each_site(database, choice, plan_site)
    parts: Parts = [part for site_parts, _skipped in planned for part in site_parts]
    skipped = [name for _parts, site_skipped in planned for name in site_skipped]
    whose = sites_words(parts) if parts else ("、".join(choice.sites) or "全部机构", "sites")
    plan = due_run_plan(month, parts, skipped, whole, today=today, user_id=user_id, whose=whose)
    return _county_params(plan, choice, parts)
