"""What each part of a print run prints: one village's forms (a set or a form, prefilled) or its monthly packet,
planned before anything is queued, with the names its files are saved under (jobs/runs.py runs them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from archiveprint.accounts.scope import SiteRow
from archiveprint.due.packet import TITLE, PacketPlan, plan_packet
from archiveprint.due.queries import DueList
from archiveprint.errors import InvalidValue
from archiveprint.forms.catalog import FormSet
from archiveprint.forms.preview import plan_print
from archiveprint.forms.services import PrintOptions, Scope, missing_glyphs_error
from archiveprint.jobs.names import file_names
from archiveprint.jobs.runs import Part
from archiveprint.locations.planner import village_order
from archiveprint.register.queries import list_villages
from archiveprint.register.services import find_village

PICKLIST = "调档单"
Parts = list[tuple[Part, dict[str, Any]]]  # each part, and the params of its job


@dataclass
class RunPlan:
    """A run before it is recorded: the run's own params and each part's, in the villages' order; the villages
    left out because nothing of theirs is printed (nobody in scope, nobody due)."""

    kind: str  # forms / due
    params: dict[str, Any]
    parts: Parts
    skipped: list[str]  # village names

    @property
    def residents(self) -> int:
        return sum(part.residents for part, _ in self.parts)

    @property
    def pages(self) -> int:
        return sum(part.pages for part, _ in self.parts)


def run_villages(session: Session, villages: Sequence[str] | None) -> list[tuple[str, str]]:
    """(ref, name) of the villages a run prints, in code order (the archive room's walking order): those named
    (codes or names), or every village the session may see. A village is named as the site names it (`Village.ref`:
    a village taken over from another township by its 12-digit code, which its 3-digit code may share)."""
    if villages:
        found = {village.ref: village.name for village in (find_village(session, key) for key in villages)}
        return sorted(found.items(), key=lambda item: village_order(item[0]))
    return [(village.ref, village.name) for village, _households, _residents in list_villages(session)]


def plan_forms_run(session: Session, form_set: FormSet, scope: Scope, options: PrintOptions, *,
                   villages: Sequence[str] | None, set_kind: str, today: date, user_id: int | None = None,
                   scope_text: str = "") -> RunPlan:
    """A form set (or form) printed prefilled for each village, one part each, the scope's other criteria (tag,
    key population) applied within each village. Refused: blank copies, codes or a household (not a village's),
    page splits (each village is its own file already), and names the font lacks unless allowed."""
    check_forms_run(scope, options)
    parts, skipped, missing = forms_parts(session, form_set, scope, options, villages=villages, set_kind=set_kind,
                                          today=today, user_id=user_id, scope_text=scope_text)
    return forms_run_plan(form_set, scope, options, parts, skipped, missing, set_kind=set_kind, today=today,
                          user_id=user_id, scope_text=scope_text, whose=villages_words(parts))


def check_forms_run(scope: Scope, options: PrintOptions) -> None:
    """What a run by village refuses before anything is planned: blank copies, codes or a household, page splits."""
    if options.blank:
        raise InvalidValue("空白表不按村打印：请取消“按村分批”，或取消“空白表”", field="按村分批")
    if scope.codes or scope.household_id or scope.village:
        raise InvalidValue("按村分批打印时请只选村（可多选），不填户、档案编号或单个村", field="按村分批")
    if options.split_pages:
        raise InvalidValue("按村分批打印时每村已是一个文件，不再按页数拆分", field="每个文件最多页数",
                           value=options.split_pages)


def forms_parts(session: Session, form_set: FormSet, scope: Scope, options: PrintOptions, *,
                villages: Sequence[str] | None, set_kind: str, today: date, user_id: int | None = None,
                scope_text: str = "", site: SiteRow | None = None) -> tuple[Parts, list[str], dict[str, Any]]:
    """The parts of the villages of one session's site (`site`: named in each part, its files and the part's
    row, for a county run): each part and its params, the villages left out (nobody to print), the names the font
    lacks."""
    parts: Parts = []
    skipped, missing = [], {}
    for code, name in run_villages(session, villages):
        village_scope = replace(scope, village=code)
        plan = plan_print(session, form_set, village_scope, options)
        if plan.residents == 0:
            skipped.append(f"{site.name} {name}" if site else name)
            continue
        missing.update(plan.missing_glyphs)
        part = _part(code, name, site, residents=plan.residents, pages=plan.pages)
        shown, stored = file_names((form_set.name, form_set.id), [*_site_words(site), (name, code)], today)
        parts.append((part, {
            "set": form_set.id, "set_kind": set_kind, "set_name": form_set.name, "scope": village_scope.as_json(),
            "population": scope.population, "scope_text": "，".join(filter(None, (part.label, scope_text))),
            "options": asdict(options), "filename": f"{stored}.pdf", "download_stem": shown, "user_id": user_id,
            "today": today.isoformat(), "residents": plan.residents, "expected_pages": plan.pages,
            **_site_params(site)}))
    return parts, skipped, missing


def forms_run_plan(form_set: FormSet, scope: Scope, options: PrintOptions, parts: Parts, skipped: list[str],
                   missing: dict[str, Any], *, set_kind: str, today: date, user_id: int | None, scope_text: str,
                   whose: tuple[str, str]) -> RunPlan:
    """The run of these parts, refused when nothing is printed or the font lacks a name; `whose` names its
    villages (or sites) in words and in ASCII, for its title and its zip's name."""
    if not parts:
        raise InvalidValue("打印范围内没有在档居民", field="打印范围", value="、".join(skipped))
    if missing:
        raise missing_glyphs_error(missing)
    plan = RunPlan("forms", {}, parts, skipped)
    shown, stored = file_names((form_set.name, form_set.id), [whose], today)
    plan.params = {
        "set": form_set.id, "set_kind": set_kind, "set_name": form_set.name, "population": scope.population,
        "scope_text": "，".join(filter(None, (whose[0], scope_text))), "options": asdict(options),
        "user_id": user_id, "today": today.isoformat(), "residents": plan.residents, "expected_pages": plan.pages,
        "filename": f"{stored}.zip", "download_names": {f"{stored}.zip": f"{shown}.zip"}}
    return plan


def plan_due_run(session: Session, month: date, *, villages: Sequence[str] | None, today: date,
                 user_id: int | None = None) -> RunPlan:
    """The monthly packet (cover list, due forms, pick list) for each village, one part each; villages where
    nobody is due are left out. Refused like one packet: nobody due at all, or names the font lacks."""
    parts, skipped, whole = due_parts(session, month, villages=villages, today=today, user_id=user_id)
    chosen = "、".join(name for _code, name in run_villages(session, villages))
    return due_run_plan(month, parts, skipped, whole, today=today, user_id=user_id,
                        whose=villages_words(parts) if parts else (chosen, "villages"))


def due_parts(session: Session, month: date, *, villages: Sequence[str] | None, today: date,
              user_id: int | None = None, site: SiteRow | None = None,
              whole: PacketPlan | None = None) -> tuple[Parts, list[str], PacketPlan]:
    """The packets of the villages of one session's site (`site`: named in each part, for a county run), each
    part with its params, the villages where nobody is due, and `whole` (the run's counts) added to."""
    parts: Parts = []
    skipped = []
    whole = whole or PacketPlan(due=DueList(month=month))
    for code, name in run_villages(session, villages):
        plan = plan_packet(session, month, villages=[code], villages_text=name)
        if not plan.due.items:
            skipped.append(f"{site.name} {name}" if site else name)
            continue
        whole.missing_glyphs.update(plan.missing_glyphs)
        whole.due.items.extend(plan.due.items)
        whole.forms += plan.forms
        whole.pages += plan.pages
        part = _part(code, name, site, residents=plan.due.residents, pages=plan.pages)
        whose = [*_site_words(site), (name, code), (f"{month:%Y年%m月}", f"{month:%Y%m}")]
        shown, stored = file_names((TITLE, "due"), whose, today)
        picklist_shown, _picklist_stored = file_names((PICKLIST, "picklist"), whose, today)
        parts.append((part, {
            "month": f"{month:%Y-%m}", "villages": [code], "villages_text": name, "set_name": TITLE,
            "scope_text": f"{month:%Y-%m}，{part.label}", "filename": f"{stored}.pdf", "download_stem": shown,
            "download_names": {f"{stored}.pdf": f"{shown}.pdf", f"{stored}-picklist.pdf": f"{picklist_shown}.pdf"},
            "user_id": user_id, "today": today.isoformat(), **packet_counts(plan), **_site_params(site)}))
    return parts, skipped, whole


def due_run_plan(month: date, parts: Parts, skipped: list[str], whole: PacketPlan, *, today: date,
                 user_id: int | None, whose: tuple[str, str]) -> RunPlan:
    """The run of these packets, refused like one packet (nobody due, names the font lacks); `whose` names its
    villages (or sites) in words and in ASCII."""
    whole.villages = whose[0]
    whole.check()
    shown, stored = file_names((TITLE, "due"), [whose, (f"{month:%Y年%m月}", f"{month:%Y%m}")], today)
    params = {"month": f"{month:%Y-%m}", "set_name": TITLE, "scope_text": f"{month:%Y-%m}，{whole.villages}",
              "user_id": user_id, "today": today.isoformat(), **packet_counts(whole),
              "filename": f"{stored}.zip", "download_names": {f"{stored}.zip": f"{shown}.zip"},
              "entry_suffixes": {"-picklist.pdf": f"-{PICKLIST}"}}
    return RunPlan("due", params, parts, skipped)


def packet_counts(plan: PacketPlan) -> dict[str, int]:
    """What the job page and the job list show of a packet before it is printed."""
    return {"residents": plan.due.residents, "visits": len(plan.due.items), "forms": plan.forms,
            "continued": plan.continued, "expected_pages": plan.pages}


def _part(code: str, name: str, site: SiteRow | None, *, residents: int, pages: int) -> Part:
    return Part(village=code, name=name, site=site.name if site else "", site_code=site.code if site else "",
                residents=residents, pages=pages)


def _site_words(site: SiteRow | None) -> list[tuple[str, str]]:
    """A county run's part names its site first in its files' names (柏棠镇卫生院-东村 …)."""
    return [(site.name, site.code)] if site else []


def _site_params(site: SiteRow | None) -> dict[str, Any]:
    """A county run's part: the site it prints in (its row's site_id; the runner works in that site's scope)."""
    return {"site_id": site.id, "site_code": site.code} if site else {}


def villages_words(parts: Parts) -> tuple[str, str]:
    """The run's villages in words and in ASCII, for its title and its zip's name: 东村、西村 (2 个村) / 3villages."""
    names = [part.name for part, _ in parts]
    shown = "、".join(names) if len(names) <= 3 else f"{'、'.join(names[:3])}等{len(names)}个村"
    return shown, f"{len(names)}villages"
