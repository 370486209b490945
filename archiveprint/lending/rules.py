"""Lending rules as data (借阅规则): loan periods, renewals, approval and evidence by borrower type, the archive room's
calendar and how long a request may wait; no database."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from archiveprint.clock import local_time, utc_from_local
from archiveprint.errors import InvalidValue

BORROWER_KINDS = ("staff", "village_doctor", "external")
REQUIREMENTS = {"application": "书面申请", "approval": "审批", "consent": "居民或监护人同意"}
SITE_FILE = "lending_rules.yaml"
MAX_DAYS = 366
MAX_RENEWALS = 20
MAX_RANGE_DAYS = 366  # one closed_dates / working_dates range
MAX_CLOSED_RUN = 800  # days searched for the next open day before the calendar is called broken

_FLAGS = ("needs_application", "needs_approval", "needs_consent", "may_leave_building", "own_villages_only")
_NUMBERS = {"loan_days": MAX_DAYS, "renewals": MAX_RENEWALS, "renewal_days": MAX_DAYS}
_TOP_KEYS = {"timezone", "purposes", "purposes_needing_note", "conditions", "defaults", "borrowers", "sensitive",
             "evidence", "overdue_levels", "calendar", "request_expiry_days"}
_CALENDAR_KEYS = {"closed_weekdays", "closed_dates", "working_dates"}
WEEKDAY_TEXT = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS: dict[str, int] = {
    **{name: n for n, name in enumerate(_WEEKDAY_NAMES)}, **{name[:3]: n for n, name in enumerate(_WEEKDAY_NAMES)},
    **{text: n for n, text in enumerate(WEEKDAY_TEXT)}, **{"星期" + text[1]: n for n, text in enumerate(WEEKDAY_TEXT)},
    "周天": 6, "星期天": 6}
_DAY = re.compile(r"(?:(\d{4})-)?(\d{1,2})-(\d{1,2})")
_SPAN = re.compile(r"\s*([\d-]+)(?:\s*\.\.\s*([\d-]+))?(?:\s+(\S.*?))?\s*")
_EVIDENCE_KEYS = {"application_scan", "consent_scan", "approver_may_be_requester"}


@dataclass(frozen=True)
class LoanRule:
    """The terms for one borrower type (or the stricter terms for a sensitive household)."""

    kind: str
    label: str
    loan_days: int
    renewals: int
    renewal_days: int
    needs_application: bool
    needs_approval: bool
    needs_consent: bool
    may_leave_building: bool
    own_villages_only: bool
    purposes: tuple[str, ...]

    @property
    def requirements(self) -> tuple[str, ...]:
        """What must be on record before the folder is released: application / approval / consent."""
        return tuple(name for name in REQUIREMENTS if getattr(self, f"needs_{name}"))


@dataclass(frozen=True)
class Evidence:
    """Which documents must be scanned, and whether a requester may approve their own request."""

    application_scan: bool = True
    consent_scan: bool = False
    approver_may_be_requester: bool = False


@dataclass(frozen=True)
class DaySpan:
    """One entry of `closed_dates` / `working_dates`: a day or a range, of one year (2026-10-01) or of every year
    (10-01, for the holidays whose date never moves). Yearly spans are kept in the leap year 2000 so 02-29 fits."""

    start: date
    end: date
    yearly: bool
    label: str = ""

    def covers(self, day: date) -> bool:
        if not self.yearly:
            return self.start <= day <= self.end
        return (self.start.month, self.start.day) <= (day.month, day.day) <= (self.end.month, self.end.day)

    @property
    def text(self) -> str:
        """As a site would write it: 10-01..10-07 国庆节."""
        shape = "%m-%d" if self.yearly else "%Y-%m-%d"
        days = self.start.strftime(shape) + ("" if self.start == self.end else ".." + self.end.strftime(shape))
        return f"{days} {self.label}".strip()


@dataclass(frozen=True)
class Calendar:
    """When the archive room is open (档案室日历): closed weekdays, closed dates (holidays) and make-up working days
    (调休上班). A due date that falls on a closed day moves to the next open day, so a borrower can always bring the
    folder back on the day it is due. The empty calendar is open every day."""

    closed_weekdays: tuple[int, ...] = ()
    closed_dates: tuple[DaySpan, ...] = ()
    working_dates: tuple[DaySpan, ...] = ()

    def is_open(self, day: date) -> bool:
        if any(span.covers(day) for span in self.working_dates):
            return True
        if day.weekday() in self.closed_weekdays:
            return False
        return not any(span.covers(day) for span in self.closed_dates)

    def closed_reason(self, day: date) -> str:
        """Why the room is closed that day ("" when it is open): the holiday's label, or the weekday."""
        if self.is_open(day):
            return ""
        span = next((span for span in self.closed_dates if span.covers(day)), None)
        if span is not None:
            return span.label or "闭馆"
        return WEEKDAY_TEXT[day.weekday()]

    def next_open(self, day: date) -> date:
        """`day` itself when the room is open, else the first open day after it."""
        for _ in range(MAX_CLOSED_RUN):
            if self.is_open(day):
                return day
            day += timedelta(days=1)
        raise InvalidValue(f"档案室日历在 {MAX_CLOSED_RUN} 天内没有开放日，请检查 calendar.closed_dates",
                           field="calendar", value=f"{day:%Y-%m-%d}")

    def closed_days(self, first: date, last: date) -> list[date]:
        """The closed days from `first` to `last` (both included), for the rules listing of a month."""
        count = (last - first).days + 1
        return [first + timedelta(days=n) for n in range(max(0, count)) if not self.is_open(first + timedelta(days=n))]

    def as_json(self) -> dict[str, object]:
        return {"closed_weekdays": [_WEEKDAY_NAMES[n] for n in self.closed_weekdays],
                "closed_dates": [span.text for span in self.closed_dates],
                "working_dates": [span.text for span in self.working_dates]}


@dataclass(frozen=True)
class LendingRules:
    """All rules of one site: the shipped file with the site's overrides applied."""

    timezone: str
    purposes: Mapping[str, str]
    purposes_needing_note: tuple[str, ...]
    conditions: Mapping[str, str]
    by_kind: Mapping[str, LoanRule]
    sensitive_tags: tuple[str, ...]
    sensitive_flags: Mapping[str, bool]
    evidence: Evidence
    overdue_levels: tuple[int, ...]
    calendar: Calendar = field(default_factory=Calendar)
    request_expiry_days: int = 0  # 0: open requests never expire
    sources: tuple[str, ...] = ()

    def rule_for(self, kind: str, *, sensitive: bool = False) -> LoanRule:
        """The rule for a borrower type; a sensitive household adds the `sensitive` flags (stricter only)."""
        if kind not in self.by_kind:
            raise InvalidValue(f"未知的借阅人类型，可选：{'、'.join(self.by_kind)}", field="借阅人类型", value=kind)
        rule = self.by_kind[kind]
        if not sensitive:
            return rule
        changes: dict[str, Any] = {}
        for flag, value in self.sensitive_flags.items():
            if flag == "may_leave_building":
                changes[flag] = rule.may_leave_building and value
            else:
                changes[flag] = getattr(rule, flag) or value
        return replace(rule, **changes)

    def is_sensitive(self, tags: Sequence[str]) -> bool:
        return any(tag in self.sensitive_tags for tag in tags)

    def purpose(self, text: str | None) -> str:
        """A purpose code from what was typed: the code (follow_up) or its label (随访)."""
        key = (text or "").strip()
        if key in self.purposes:
            return key
        for code, label in self.purposes.items():
            if key == label:
                return code
        raise InvalidValue(f"借阅事由应为：{'、'.join(self.purposes.values())}", field="借阅事由", value=text)

    def condition(self, text: str | None) -> str:
        """A return condition code from its code or label (完好 / 缺页 / 破损); empty means intact."""
        key = (text or "").strip()
        if not key:
            return "intact"
        if key in self.conditions:
            return key
        for code, label in self.conditions.items():
            if key == label:
                return code
        raise InvalidValue(f"归还状况应为：{'、'.join(self.conditions.values())}", field="归还状况", value=text)

    def local_date(self, moment: datetime) -> date:
        """The archive's calendar day of a stored (UTC, naive) timestamp."""
        return local_time(moment, self.timezone).date()

    def day_start(self, day: date) -> datetime:
        """The first moment of the archive's calendar day `day`, as a stored (UTC, naive) timestamp."""
        return utc_from_local(datetime(day.year, day.month, day.day), self.timezone)

    def request_expiry_cutoff(self, today: date) -> date | None:
        """Open requests whose day (the later of the day asked and the day needed) is before this day have waited
        longer than `request_expiry_days` and are closed as expired; None when requests never expire."""
        if not self.request_expiry_days:
            return None
        return today - timedelta(days=self.request_expiry_days)

    def overdue_level(self, due_on: date, today: date) -> int:
        """0 when not overdue; else how many notice levels the loan has reached (at least 1)."""
        late = (today - due_on).days
        if late <= 0:
            return 0
        return max(1, sum(1 for days in self.overdue_levels if late >= days))


# --- pure decisions -----------------------------------------------------------------------------------------------

ALWAYS_OPEN = Calendar()


def due_date(rule: LoanRule, day: date, *, on_site: bool = False, calendar: Calendar = ALWAYS_OPEN) -> date:
    """The day a folder lent on `day` must be back: same day for reading in the archive room; otherwise after the
    loan period, moved on to the next day the archive room is open."""
    if on_site or not rule.may_leave_building:
        return day
    return calendar.next_open(day + timedelta(days=rule.loan_days))


def renewal_refusal(rule: LoanRule, *, renewals: int, on_site: bool, lost: bool, waiting: int) -> str | None:
    """Why a loan cannot be renewed (None: it can). `waiting` = other borrowers' open requests for the folder."""
    if lost:
        return "该档案袋已登记丢失，不能续借"
    if on_site or not rule.may_leave_building:
        return "室内查阅不能续借，请当天归还"
    if renewals >= rule.renewals:
        return f"已续借 {renewals} 次，{rule.label}最多续借 {rule.renewals} 次"
    if waiting:
        return f"另有 {waiting} 人在等这份档案，不能续借，请按期归还"
    return None


def renewed_due(rule: LoanRule, due_on: date, today: date, *, calendar: Calendar = ALWAYS_OPEN) -> date:
    """The new due date: a renewal runs from the old due date, or from today when the loan is already late, and
    moves on to the next open day like a first due date."""
    return calendar.next_open(max(due_on, today) + timedelta(days=rule.renewal_days))


def missing_requirements(rule: LoanRule, evidence: Evidence, *, application_ref: str, application_scan: bool,
                         consent_ref: str, consent_scan: bool, approved: bool) -> list[str]:
    """What is still missing before the folder may be released, in Chinese, in the order it is done."""
    missing = []
    if rule.needs_application:
        if not application_ref:
            missing.append("书面申请（申请编号）")
        elif evidence.application_scan and not application_scan:
            missing.append("书面申请扫描件")
    if rule.needs_consent:
        if not consent_ref:
            missing.append("居民或监护人同意的证明")
        elif evidence.consent_scan and not consent_scan:
            missing.append("同意书扫描件")
    if rule.needs_approval and not approved:
        missing.append("审批")
    return missing


# --- loading ------------------------------------------------------------------------------------------------------

def shipped_rules_file() -> Path:
    from archiveprint import resources

    return resources.template_dir() / "lending" / "rules.yaml"


def rules_files(instance_dir: Path | None) -> list[Path]:
    """The shipped rules, then the site's <instance>/lending_rules.yaml when there is one."""
    paths = [shipped_rules_file()]
    if instance_dir is not None and (Path(instance_dir) / SITE_FILE).is_file():
        paths.append(Path(instance_dir) / SITE_FILE)
    return paths


def site_rules(instance_dir: Path | None) -> LendingRules:
    """The rules in force for an installation (re-read when a file changes)."""
    paths = rules_files(instance_dir)
    return _cached(tuple((str(p), p.stat().st_mtime_ns) for p in paths))


@lru_cache(maxsize=8)
def _cached(stamped: tuple[tuple[str, int], ...]) -> LendingRules:
    return load_rules([Path(path) for path, _ in stamped])


def load_rules(paths: Sequence[Path]) -> LendingRules:
    """Read and merge rule files in order (later files override earlier ones), then check the result."""
    import yaml

    merged: dict[str, Any] = {}
    for path in paths:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise InvalidValue(f"借阅规则文件不是有效的 YAML：{error}", field=str(path)) from None
        if not isinstance(raw, dict):
            raise InvalidValue("借阅规则文件应为键值映射", field=str(path))
        merged = merge(merged, raw)
    return parse_rules(merged, sources=tuple(str(p) for p in paths))


def merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else in `override` replaces the value in `base`."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def parse_rules(raw: Mapping[str, Any], *, sources: tuple[str, ...] = ()) -> LendingRules:
    """Check every key and value (a typo must fail loudly, not switch a rule off) and build the rules."""
    where = "、".join(sources) or "借阅规则"
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise InvalidValue(f"借阅规则中有未知的键：{'、'.join(sorted(unknown))}", field=where)
    purposes = _labels(raw.get("purposes"), "purposes", where)
    conditions = _labels(raw.get("conditions"), "conditions", where)
    if "intact" not in conditions:
        raise InvalidValue("conditions 中必须有 intact（完好）", field=where)
    needing_note = tuple(_codes(raw.get("purposes_needing_note") or [], purposes, "purposes_needing_note", where))
    defaults = raw.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise InvalidValue("defaults 应为键值映射", field=where)
    borrowers = raw.get("borrowers") or {}
    if not isinstance(borrowers, Mapping):
        raise InvalidValue("borrowers 应为键值映射", field=where)
    unknown_kinds = set(borrowers) - set(BORROWER_KINDS)
    if unknown_kinds:
        raise InvalidValue(f"未知的借阅人类型：{'、'.join(sorted(map(str, unknown_kinds)))}；可选："
                           f"{'、'.join(BORROWER_KINDS)}", field=where)
    by_kind = {kind: _rule(kind, merge(defaults, borrowers.get(kind) or {}), purposes, where)
               for kind in BORROWER_KINDS}
    sensitive = dict(raw.get("sensitive") or {})
    tags = tuple(str(t) for t in sensitive.pop("tags", []) or [])
    bad = set(sensitive) - set(_FLAGS)
    if bad:
        raise InvalidValue(f"sensitive 中有未知的键：{'、'.join(sorted(bad))}", field=where)
    flags = {key: _flag(value, f"sensitive.{key}", where) for key, value in sensitive.items()}
    evidence_raw = raw.get("evidence") or {}
    bad = set(evidence_raw) - _EVIDENCE_KEYS
    if bad:
        raise InvalidValue(f"evidence 中有未知的键：{'、'.join(sorted(bad))}", field=where)
    evidence = Evidence(**{key: _flag(value, f"evidence.{key}", where) for key, value in evidence_raw.items()})
    levels = raw.get("overdue_levels") or [1]
    if not (isinstance(levels, list) and all(isinstance(v, int) and v > 0 for v in levels)
            and levels == sorted(set(levels))):
        raise InvalidValue("overdue_levels 应为递增的正整数列表（逾期天数）", field=where, value=levels)
    timezone = str(raw.get("timezone") or "Asia/Shanghai")
    _check_timezone(timezone, where)
    expiry = raw.get("request_expiry_days", 0)
    if not isinstance(expiry, int) or isinstance(expiry, bool) or not 0 <= expiry <= MAX_DAYS:
        raise InvalidValue(f"request_expiry_days 应为 0–{MAX_DAYS} 的整数（0 表示申请不会过期）", field=where,
                           value=expiry)
    return LendingRules(timezone=timezone, purposes=purposes, purposes_needing_note=needing_note,
                        conditions=conditions, by_kind=by_kind, sensitive_tags=tags, sensitive_flags=flags,
                        evidence=evidence, overdue_levels=tuple(levels),
                        calendar=parse_calendar(raw.get("calendar") or {}, where), request_expiry_days=expiry,
                        sources=sources)


# --- the calendar -----------------------------------------------------------------------------------------------

def parse_calendar(raw: object, where: str = "借阅规则") -> Calendar:
    """Check the `calendar` section strictly: every weekday name, date and range must be understood, a day may not
    be both closed and a working day, and a working day must be one the room would otherwise be closed on."""
    if not isinstance(raw, Mapping):
        raise InvalidValue("calendar 应为键值映射（closed_weekdays、closed_dates、working_dates）", field=where)
    unknown = set(raw) - _CALENDAR_KEYS
    if unknown:
        raise InvalidValue(f"calendar 中有未知的键：{'、'.join(sorted(map(str, unknown)))}；可选："
                           f"{'、'.join(sorted(_CALENDAR_KEYS))}", field=where)
    weekdays: list[int] = []
    for name in _list(raw.get("closed_weekdays"), "calendar.closed_weekdays", where):
        number = WEEKDAYS.get(str(name).strip().lower())
        if number is None:
            raise InvalidValue("calendar.closed_weekdays 中有无法识别的星期，应为 monday…sunday 或 周一…周日",
                               field=where, value=name)
        if number not in weekdays:
            weekdays.append(number)
    if len(weekdays) == 7:
        raise InvalidValue("calendar.closed_weekdays 不能包含全部 7 天：档案室每周至少要开放一天", field=where)
    closed = tuple(_span(item, "calendar.closed_dates", where)
                   for item in _list(raw.get("closed_dates"), "calendar.closed_dates", where))
    working = tuple(_span(item, "calendar.working_dates", where)
                    for item in _list(raw.get("working_dates"), "calendar.working_dates", where))
    calendar = Calendar(closed_weekdays=tuple(sorted(weekdays)), closed_dates=closed, working_dates=())
    for span in working:
        if span.yearly:
            raise InvalidValue("调休上班日须写明年份（YYYY-MM-DD）", field=where, value=span.text)
        day = span.start
        while day <= span.end:
            holiday = next((c for c in closed if c.covers(day)), None)
            if holiday is not None:
                raise InvalidValue(f"{day:%Y-%m-%d} 同时列在 closed_dates（{holiday.text}）和 working_dates 中",
                                   field=where, value=span.text)
            if calendar.is_open(day):
                raise InvalidValue(f"{day:%Y-%m-%d} 是{WEEKDAY_TEXT[day.weekday()]}，档案室本来就开放，"
                                   "不必列为调休上班日（working_dates）", field=where, value=span.text)
            day += timedelta(days=1)
    return replace(calendar, working_dates=working)


def _list(raw: object, key: str, where: str) -> list[object]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidValue(f"{key} 应为列表", field=where, value=raw)
    return raw


def _span(item: object, key: str, where: str) -> DaySpan:
    """`2026-10-01`, `10-01`, `10-01..10-07` or `2026-02-15..2026-02-23`, optionally followed by a label
    (`10-01..10-07 国庆节`). YAML reads an unquoted 2026-10-01 as a date, which is accepted too."""
    if isinstance(item, datetime) or not isinstance(item, date | str):
        raise InvalidValue(f"{key} 中的日期应写成 YYYY-MM-DD 或 MM-DD（区间：起..止）", field=where, value=item)
    if isinstance(item, date):
        return DaySpan(item, item, yearly=False)
    found = _SPAN.fullmatch(item)
    if found is None:
        raise InvalidValue(f"{key} 中有无效的日期（应为 YYYY-MM-DD 或 MM-DD，区间写成 起..止）", field=where,
                           value=item)
    first, last, label = found.groups()
    start, start_yearly = _day(first, key, where, item)
    end, end_yearly = _day(last, key, where, item) if last else (start, start_yearly)
    if start_yearly != end_yearly:
        raise InvalidValue(f"{key} 中区间的起止日期应同为 YYYY-MM-DD 或同为 MM-DD", field=where, value=item)
    if end < start:
        if start_yearly:
            raise InvalidValue(f"{key} 中的每年区间不能跨年，请分成两段（如 12-31 和 01-01..01-02）", field=where,
                               value=item)
        raise InvalidValue(f"{key} 中区间的结束日期早于开始日期", field=where, value=item)
    if (end - start).days >= MAX_RANGE_DAYS:
        raise InvalidValue(f"{key} 中的区间不能超过 {MAX_RANGE_DAYS} 天", field=where, value=item)
    return DaySpan(start, end, yearly=start_yearly, label=(label or "").strip())


def _day(text: str, key: str, where: str, item: object) -> tuple[date, bool]:
    found = _DAY.fullmatch(text.strip())
    try:
        if found is None:
            raise ValueError(text)
        year, month, day = found.groups()
        return date(int(year) if year else 2000, int(month), int(day)), year is None
    except ValueError:
        raise InvalidValue(f"{key} 中有无效的日期（应为 YYYY-MM-DD 或 MM-DD，区间写成 起..止）", field=where,
                           value=item) from None


def _rule(kind: str, raw: Mapping[str, Any], purposes: Mapping[str, str], where: str) -> LoanRule:
    known = {f.name for f in fields(LoanRule)} - {"kind"}
    unknown = set(raw) - known
    if unknown:
        raise InvalidValue(f"借阅人类型 {kind} 中有未知的键：{'、'.join(sorted(unknown))}", field=where)
    values: dict[str, Any] = {"kind": kind, "label": str(raw.get("label") or kind)}
    for key, limit in _NUMBERS.items():
        value = raw.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= limit:
            raise InvalidValue(f"{kind}.{key} 应为 0–{limit} 的整数", field=where, value=value)
        values[key] = value
    for key in _FLAGS:
        values[key] = _flag(raw.get(key, False), f"{kind}.{key}", where)
    values["purposes"] = tuple(_codes(raw.get("purposes") or list(purposes), purposes, f"{kind}.purposes", where))
    rule = LoanRule(**values)
    if rule.may_leave_building and rule.loan_days == 0:
        raise InvalidValue(f"{kind}：可以带出档案室时 loan_days 至少为 1", field=where, value=0)
    return rule


def _labels(raw: object, key: str, where: str) -> dict[str, str]:
    if not isinstance(raw, Mapping) or not raw:
        raise InvalidValue(f"{key} 应为“代码: 名称”的映射", field=where)
    return {str(code): str(label) for code, label in raw.items()}


def _codes(raw: object, known: Mapping[str, str], key: str, where: str) -> list[str]:
    if not isinstance(raw, list):
        raise InvalidValue(f"{key} 应为列表", field=where, value=raw)
    unknown = [str(code) for code in raw if code not in known]
    if unknown:
        raise InvalidValue(f"{key} 中有未定义的事由：{'、'.join(unknown)}", field=where)
    return [str(code) for code in raw]


def _flag(value: object, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidValue(f"{key} 应为 true 或 false", field=where, value=value)
    return value


def _check_timezone(name: str, where: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue("未知的时区", field=where, value=name) from None
