"""The archive room's wall clock: the database stores naive UTC; people read and write the site's local time."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archiveprint.errors import InvalidValue


def zone(timezone: str) -> ZoneInfo:
    """The site's time zone by its IANA name (the lending rules carry it, e.g. Asia/Shanghai)."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidValue("时区名称无法识别（应为如 Asia/Shanghai 的 IANA 名称）", field="时区",
                           value=timezone) from None


def local_time(moment: datetime, timezone: str) -> datetime:
    """A stored UTC timestamp as wall-clock time in `timezone` (naive, for printing)."""
    return moment.replace(tzinfo=UTC).astimezone(zone(timezone)).replace(tzinfo=None)


def utc_from_local(moment: datetime, timezone: str) -> datetime:
    """Wall-clock time in the site's zone (a scanner's file, a typed time) as the naive UTC the database stores."""
    return moment.replace(tzinfo=zone(timezone)).astimezone(UTC).replace(tzinfo=None)


def today(timezone: str, now: datetime | None = None) -> date:
    """The archive's working day: the calendar day in the site's zone, never the server's (a server on UTC is still
    on yesterday until 08:00 in Beijing). `now` is the stored-style naive UTC moment, the current one if omitted."""
    moment = now if now is not None else datetime.now(UTC).replace(tzinfo=None)
    return local_time(moment, timezone).date()
