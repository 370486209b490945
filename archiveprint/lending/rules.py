"""Lending rules as data (借阅规则): loan periods, renewals, approval and evidence by borrower type, the archive room's
calendar and how long a request may wait; no database."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from annotated_types import Interval, MinLen
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    PlainValidator,
    StrictBool,
    StrictInt,
    field_validator,
    model_validator,
)

from archiveprint import resources
from archiveprint.clock import local_time, utc_from_local
from archiveprint.configfile import Document, Invalid, Loc, Schema, merge_documents, read_yaml, worded
from archiveprint.errors import N_, InvalidValue

BORROWER_KINDS = ("staff", "village_doctor", "external")
REQUIREMENTS = {"application": "书面申请", "approval": "审批", "consent": "居民或监护人同意"}
SITE_FILE = "lending_rules.yaml"
WHAT = N_("借阅规则")  # names the file in every message about it
DEFAULT_TIMEZONE = "Asia/Shanghai"
MAX_DAYS = 366
MAX_RENEWALS = 20
MAX_RANGE_DAYS = 366  # one closed_dates / working_dates range
MAX_CLOSED_RUN = 800  # days searched for the next open day before the calendar is called broken

_FLAGS = ("needs_application", "needs_approval", "needs_consent", "may_leave_building", "own_villages_only")
WEEKDAY_TEXT = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAYS: dict[str, int] = {
    **{name: n for n, name in enumerate(_WEEKDAY_NAMES)}, **{name[:3]: n for n, name in enumerate(_WEEKDAY_NAMES)},
    **{text: n for n, text in enumerate(WEEKDAY_TEXT)}, **{"星期" + text[1]: n for n, text in enumerate(WEEKDAY_TEXT)},
    "周天": 6, "星期天": 6}
_DAY = re.compile(r"(?:(\d{4})-)?(\d{1,2})-(\d{1,2})")
_SPAN = re.compile(r"\s*([\d-]+)(?:\s*\.\.\s*([\d-]+))?(?:\s+(\S.*?))?\s*")


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


class Evidence(Schema):
    """Which documents must be scanned, and whether a requester may approve their own request."""

    application_scan: StrictBool = True
    consent_scan: StrictBool = False
    approver_may_be_requester: StrictBool = False


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
        raise InvalidValue("档案室日历在 {days} 天内没有开放日，请检查 calendar.closed_dates",
                           params={"days": MAX_CLOSED_RUN}, field="calendar", value=f"{day:%Y-%m-%d}")

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
            raise InvalidValue("未知的借阅人类型，可选：{kinds}", params={"kinds": "、".join(self.by_kind)},
                               field="借阅人类型", value=kind)
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
        raise InvalidValue("借阅事由应为：{labels}", params={"labels": "、".join(self.purposes.values())},
                           field="借阅事由", value=text)

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
        raise InvalidValue("归还状况应为：{labels}", params={"labels": "、".join(self.conditions.values())},
                           field="归还状况", value=text)

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
    documents = [read_yaml(path, what=WHAT, source=str(path)) for path in paths]
    return _build(merge_documents(documents), sources=tuple(str(p) for p in paths))


def parse_rules(raw: Mapping[str, Any], *, sources: tuple[str, ...] = ()) -> LendingRules:
    """Check every key and value (a typo must fail loudly, not switch a rule off) and build the rules."""
    return _build(Document(raw, WHAT, "、".join(sources)), sources=sources)


def parse_calendar(raw: object, where: str = "") -> Calendar:
    """Check a `calendar` section on its own (see _CalendarFile)."""
    return Document(raw, WHAT, where).validate(_CalendarFile).build()


def _build(document: Document, *, sources: tuple[str, ...]) -> LendingRules:
    file = document.validate(_RulesFile)
    sensitive = file.sensitive or _Sensitive()
    return LendingRules(
        timezone=file.timezone or DEFAULT_TIMEZONE, purposes=file.purposes,
        purposes_needing_note=tuple(file.purposes_needing_note or ()), conditions=file.conditions,
        by_kind={kind: file.rule(kind) for kind in BORROWER_KINDS}, sensitive_tags=tuple(sensitive.tags or ()),
        sensitive_flags={flag: getattr(sensitive, flag) for flag in _FLAGS if getattr(sensitive, flag) is not None},
        evidence=file.evidence or Evidence(), overdue_levels=tuple(file.overdue_levels or (1,)),
        calendar=(file.calendar or _CalendarFile()).build(), request_expiry_days=file.request_expiry_days,
        sources=sources)


# --- the file, declared ---------------------------------------------------------------------------------------------
# A key that is absent or empty (`defaults:` with nothing under it) takes its default, as it always has.

def _listed(raw: object) -> object:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise Invalid(N_("{path} 应为列表"))
    return raw


def _weekday(name: object) -> int:
    number = WEEKDAYS.get(str(name).strip().lower())
    if number is None:
        raise Invalid(N_("{path} 中有无法识别的星期，应为 monday…sunday 或 周一…周日"))
    return number


BAD_DAY = N_("{path} 中有无效的日期（应为 YYYY-MM-DD 或 MM-DD，区间写成 起..止）")


def _span(item: object) -> DaySpan:
    """`2026-10-01`, `10-01`, `10-01..10-07` or `2026-02-15..2026-02-23`, optionally followed by a label
    (`10-01..10-07 国庆节`). YAML reads an unquoted 2026-10-01 as a date, which is accepted too."""
    if isinstance(item, datetime) or not isinstance(item, date | str):
        raise Invalid(N_("{path} 中的日期应写成 YYYY-MM-DD 或 MM-DD（区间：起..止）"))
    if isinstance(item, date):
        return DaySpan(item, item, yearly=False)
    found = _SPAN.fullmatch(item)
    if found is None:
        raise Invalid(BAD_DAY)
    first, last, label = found.groups()
    start, start_yearly = _day(first)
    end, end_yearly = _day(last) if last else (start, start_yearly)
    if start_yearly != end_yearly:
        raise Invalid(N_("{path} 中区间的起止日期应同为 YYYY-MM-DD 或同为 MM-DD"))
    if end < start:
        if start_yearly:
            raise Invalid(N_("{path} 中的每年区间不能跨年，请分成两段（如 12-31 和 01-01..01-02）"))
        raise Invalid(N_("{path} 中区间的结束日期早于开始日期"))
    if (end - start).days >= MAX_RANGE_DAYS:
        raise Invalid(N_("{path} 中的区间不能超过 {days} 天"), {"days": MAX_RANGE_DAYS})
    return DaySpan(start, end, yearly=start_yearly, label=(label or "").strip())


def _day(text: str) -> tuple[date, bool]:
    found = _DAY.fullmatch(text.strip())
    try:
        if found is None:
            raise ValueError(text)
        year, month, day = found.groups()
        return date(int(year) if year else 2000, int(month), int(day)), year is None
    except ValueError:
        raise Invalid(BAD_DAY) from None


def _known_zone(name: str | None) -> str | None:
    if name:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise Invalid(N_("未知的时区")) from None
    return name


def _increasing(levels: list[int]) -> list[int]:
    if not all(days > 0 for days in levels) or levels != sorted(set(levels)):
        raise Invalid(OVERDUE_LEVELS)
    return levels


OVERDUE_LEVELS = N_("overdue_levels 应为递增的正整数列表（逾期天数）")
NUMBER = N_("{path} 应为 0–{limit} 的整数")
Days = Annotated[StrictInt, Interval(ge=0, le=MAX_DAYS), worded(NUMBER, {"limit": MAX_DAYS})]
Renewals = Annotated[StrictInt, Interval(ge=0, le=MAX_RENEWALS), worded(NUMBER, {"limit": MAX_RENEWALS})]
Labels = Annotated[dict[str, str], MinLen(1), worded(N_("{path} 应为“代码: 名称”的映射"))]
Codes = Annotated[list[str], BeforeValidator(_listed)]
Weekdays = Annotated[list[Annotated[int, PlainValidator(_weekday)]], BeforeValidator(_listed)]
Spans = Annotated[list[Annotated[DaySpan, PlainValidator(_span)]], BeforeValidator(_listed)]


class _CalendarFile(Schema):
    """`calendar`, checked strictly: every weekday name, date and range must be understood, a day may not be both
    closed and a working day, and a working day must be one the room would otherwise be closed on."""

    shape: ClassVar[str] = N_("calendar 应为键值映射（closed_weekdays、closed_dates、working_dates）")
    closed_weekdays: Weekdays = Field(default_factory=list)
    closed_dates: Spans = Field(default_factory=list)
    working_dates: Spans = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> _CalendarFile:
        if len(set(self.closed_weekdays)) == 7:
            raise Invalid(N_("calendar.closed_weekdays 不能包含全部 7 天：档案室每周至少要开放一天"),
                          at=("closed_weekdays",), value=None)
        closed = replace(self.build(), working_dates=())
        for n, span in enumerate(self.working_dates):
            at: Loc = ("working_dates", n)
            if span.yearly:
                raise Invalid(N_("调休上班日须写明年份（YYYY-MM-DD）"), at=at, value=span.text)
            day = span.start
            while day <= span.end:
                holiday = next((c for c in self.closed_dates if c.covers(day)), None)
                params = {"day": f"{day:%Y-%m-%d}", "holiday": holiday.text if holiday else "",
                          "weekday": WEEKDAY_TEXT[day.weekday()]}
                if holiday is not None:
                    raise Invalid(N_("{day} 同时列在 closed_dates（{holiday}）和 working_dates 中"), params, at=at,
                                  value=span.text)
                if closed.is_open(day):
                    raise Invalid(N_("{day} 是{weekday}，档案室本来就开放，不必列为调休上班日（working_dates）"),
                                  params, at=at, value=span.text)
                day += timedelta(days=1)
        return self

    def build(self) -> Calendar:
        return Calendar(closed_weekdays=tuple(sorted(set(self.closed_weekdays))),
                        closed_dates=tuple(self.closed_dates), working_dates=tuple(self.working_dates))


class _Flags(Schema):
    needs_application: StrictBool | None = None
    needs_approval: StrictBool | None = None
    needs_consent: StrictBool | None = None
    may_leave_building: StrictBool | None = None
    own_villages_only: StrictBool | None = None


class _Terms(_Flags):
    """One borrower type's terms as written, or the defaults they start from (None: not set here)."""

    label: str | None = None
    loan_days: Days | None = None
    renewals: Renewals | None = None
    renewal_days: Days | None = None
    purposes: Codes | None = None


class _Sensitive(_Flags):
    """Flags added to any borrower's rule for a household in one of the `tags` groups (stricter only)."""

    tags: Codes | None = None


class _RulesFile(Schema):
    """The rules file (the shipped one with a site's file merged over it)."""

    shape: ClassVar[str] = N_("借阅规则文件应为键值映射")
    timezone: Annotated[str | None, AfterValidator(_known_zone)] = None
    purposes: Labels
    purposes_needing_note: Codes | None = None
    conditions: Labels
    defaults: _Terms | None = None
    borrowers: dict[str, _Terms] | None = None
    sensitive: _Sensitive | None = None
    evidence: Evidence | None = None
    overdue_levels: Annotated[list[StrictInt], AfterValidator(_increasing), worded(OVERDUE_LEVELS)] | None = None
    calendar: _CalendarFile | None = None
    request_expiry_days: Annotated[StrictInt, Interval(ge=0, le=MAX_DAYS), worded(
        N_("request_expiry_days 应为 0–{limit} 的整数（0 表示申请不会过期）"), {"limit": MAX_DAYS})] = 0

    @field_validator("conditions")
    @classmethod
    def _keeps_intact(cls, conditions: dict[str, str]) -> dict[str, str]:
        if "intact" not in conditions:
            raise Invalid(N_("conditions 中必须有 intact（完好）"), value=None)
        return conditions

    @field_validator("borrowers", mode="before")
    @classmethod
    def _known_kinds(cls, borrowers: object) -> object:
        for kind in borrowers if isinstance(borrowers, Mapping) else ():
            if kind not in BORROWER_KINDS:
                raise Invalid(N_("未知的借阅人类型：{kind}；可选：{kinds}"),
                              {"kind": kind, "kinds": "、".join(BORROWER_KINDS)}, at=(kind,), value=None)
        return borrowers

    @model_validator(mode="after")
    def _consistent(self) -> _RulesFile:
        lists = {("purposes_needing_note",): self.purposes_needing_note,
                 ("defaults", "purposes"): (self.defaults or _Terms()).purposes,
                 **{("borrowers", kind, "purposes"): terms.purposes for kind, terms in (self.borrowers or {}).items()}}
        for at, codes in lists.items():
            unknown = [code for code in codes or () if code not in self.purposes]
            if unknown:
                raise Invalid(N_("{path} 中有未定义的事由：{codes}"), {"codes": "、".join(unknown)}, at=at,
                              value=None)
        for kind in BORROWER_KINDS:
            rule = self.rule(kind)
            if rule.may_leave_building and rule.loan_days == 0:
                raise Invalid(N_("{kind}：可以带出档案室时 loan_days 至少为 1"), {"kind": kind},
                              at=("borrowers", kind, "loan_days"), value=0)
        return self

    def rule(self, kind: str) -> LoanRule:
        """A borrower type's terms over the defaults (a key neither sets is 0, false, or every purpose)."""
        own, defaults = (self.borrowers or {}).get(kind) or _Terms(), self.defaults or _Terms()

        def pick(key: str, fallback: Any) -> Any:
            for terms in (own, defaults):
                if getattr(terms, key) is not None:
                    return getattr(terms, key)
            return fallback

        return LoanRule(kind=kind, label=pick("label", "") or kind, loan_days=pick("loan_days", 0),
                        renewals=pick("renewals", 0), renewal_days=pick("renewal_days", 0),
                        **{flag: pick(flag, False) for flag in _FLAGS},
                        purposes=tuple(pick("purposes", None) or self.purposes))
