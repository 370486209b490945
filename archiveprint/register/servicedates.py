"""The register dates service schedules count from (预产期, 分娩日期, 结核治疗开始日期): their labels and rules."""

from __future__ import annotations

from datetime import date, timedelta

from archiveprint.errors import N_, Message

# Field → label, in the order pages and exports show them (Resident has a column of each name).
SERVICE_DATES: dict[str, Message] = {"due_date": N_("预产期"), "delivery_date": N_("分娩日期"),
                                     "tb_treatment_start": N_("结核治疗开始日期")}
EARLIEST_YEAR = 1950
DUE_DATE_AHEAD_DAYS = 300  # a pregnancy is about 280 days: a 预产期 further ahead than this is a slip of the pen
MATERNAL_DATES = ("due_date", "delivery_date")
_YEAR = {"due_date": N_("预产期的年份不合理"), "delivery_date": N_("分娩日期的年份不合理"),
         "tb_treatment_start": N_("结核治疗开始日期的年份不合理")}
_FUTURE = {"delivery_date": N_("分娩日期晚于今天"), "tb_treatment_start": N_("结核治疗开始日期晚于今天")}
BEFORE_BIRTH = {"due_date": N_("预产期早于出生日期"), "delivery_date": N_("分娩日期早于出生日期"),
                 "tb_treatment_start": N_("结核治疗开始日期早于出生日期")}
DUE_TOO_FAR = N_("预产期距今超过300天（孕期约280天）")
NOT_FOR_MEN = N_("性别为男，不应有预产期或分娩日期")


def date_doubt(field: str, value: date, *, today: date | None, birth_date: date | None = None,
               sex: str | None = None) -> Message | None:
    """Why a service date cannot be right for this resident, or None. The import flags such a value 待核实 and keeps
    the row; a clerk entering it by hand is refused. Without `today` the dates are not compared with it."""
    if value.year < EARLIEST_YEAR:
        return _YEAR[field]
    if today is not None and field in _FUTURE and value > today:
        return _FUTURE[field]
    if today is not None and field == "due_date" and value > today + timedelta(days=DUE_DATE_AHEAD_DAYS):
        return DUE_TOO_FAR
    if birth_date is not None and value < birth_date:
        return BEFORE_BIRTH[field]
    if sex == "1" and field in MATERNAL_DATES:
        return NOT_FOR_MEN
    return None
