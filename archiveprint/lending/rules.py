"""Lending rules as data (借阅规则): loan periods, renewals, approval and evidence by borrower type; no database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from archiveprint.errors import InvalidValue

BORROWER_KINDS = ("staff", "village_doctor", "external")
REQUIREMENTS = {"application": "书面申请", "approval": "审批", "consent": "居民或监护人同意"}
SITE_FILE = "lending_rules.yaml"
MAX_DAYS = 366
MAX_RENEWALS = 20

_FLAGS = ("needs_application", "needs_approval", "needs_consent", "may_leave_building", "own_villages_only")
_NUMBERS = {"loan_days": MAX_DAYS, "renewals": MAX_RENEWALS, "renewal_days": MAX_DAYS}
_TOP_KEYS = {"timezone", "purposes", "purposes_needing_note", "conditions", "defaults", "borrowers", "sensitive",
             "evidence", "overdue_levels"}
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

    def overdue_level(self, due_on: date, today: date) -> int:
        """0 when not overdue; else how many notice levels the loan has reached (at least 1)."""
        late = (today - due_on).days
        if late <= 0:
            return 0
        return max(1, sum(1 for days in self.overdue_levels if late >= days))


def local_time(moment: datetime, timezone: str) -> datetime:
    """A stored UTC timestamp as wall-clock time in `timezone` (naive, for printing)."""
    from zoneinfo import ZoneInfo

    return moment.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).replace(tzinfo=None)


# --- pure decisions -----------------------------------------------------------------------------------------------

def due_date(rule: LoanRule, day: date, *, on_site: bool = False) -> date:
    """The day a folder lent on `day` must be back: same day for reading in the archive room."""
    if on_site or not rule.may_leave_building:
        return day
    return day + timedelta(days=rule.loan_days)


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


def renewed_due(rule: LoanRule, due_on: date, today: date) -> date:
    """The new due date: a renewal runs from the old due date, or from today when the loan is already late."""
    return max(due_on, today) + timedelta(days=rule.renewal_days)


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
    return LendingRules(timezone=timezone, purposes=purposes, purposes_needing_note=needing_note,
                        conditions=conditions, by_kind=by_kind, sensitive_tags=tags, sensitive_flags=flags,
                        evidence=evidence, overdue_levels=tuple(levels), sources=sources)


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
