"""Group what an import check found (problems, values it fixed, values flagged 待核实) by cause, for page and CLI."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from archiveprint.errors import Message

RANGES_SHOWN = 20  # "第2–706、710行": past this many runs the list ends with 等


@dataclass
class FindingGroup:
    """Rows that share a cause: the column, the reason (or kind of fix) and each row's value (and new value)."""

    column: str
    reason: str
    entries: list[tuple[int, str, str]] = field(default_factory=list)  # (row, value or old, "" or new)

    @property
    def count(self) -> int:
        return len(self.entries)

    @property
    def rows(self) -> list[int]:
        return [row for row, _value, _new in self.entries]

    @property
    def common_value(self) -> str | None:
        """The value every row has, when they all have the same (a village name), else None."""
        values = {value for _row, value, _new in self.entries}
        return next(iter(values)) if len(values) == 1 else None

    def as_values(self, limit: int) -> dict[str, object]:
        """Plain values for the stored report: at most `limit` rows listed, the count and ranges for all, and the
        reason's template and params (the page shows it in the reader's language)."""
        return {"column": self.column, "reason": self.reason, "reason_message": kept_message(self.reason),
                "count": self.count, "rows": row_ranges(self.rows), "value": self.common_value,
                "entries": [list(entry) for entry in self.entries[:limit]]}


def kept_message(text: str) -> dict[str, object] | None:
    """A reason with params as Message.as_values, for a report kept as JSON; None for plain text and constants
    (their text is their msgid)."""
    return text.as_values() if isinstance(text, Message) and text.params else None


def group(items: Iterable[tuple[str, str, int, str, str]]) -> list[FindingGroup]:
    """(column, reason, row, value, new) items in groups by (column, reason), in order of each group's first row."""
    groups: dict[tuple[str, str], FindingGroup] = {}
    for column, reason, row, value, new in items:
        found = groups.get((column, reason))
        if found is None:
            found = groups[(column, reason)] = FindingGroup(column, reason)
        found.entries.append((row, value, new))
    for found in groups.values():
        found.entries.sort(key=lambda entry: entry[0])
    return sorted(groups.values(), key=lambda found: (found.entries[0][0], found.column, found.reason))


def row_ranges(rows: Iterable[int]) -> str:
    """Row numbers as runs: 2–706、710、712–713 (at most RANGES_SHOWN runs, then 等)."""
    runs: list[list[int]] = []
    for row in sorted(set(rows)):
        if runs and row == runs[-1][1] + 1:
            runs[-1][1] = row
        else:
            runs.append([row, row])
    shown = [str(first) if first == last else f"{first}–{last}" for first, last in runs[:RANGES_SHOWN]]
    return "、".join(shown) + ("等" if len(runs) > RANGES_SHOWN else "")


def describe(found: FindingGroup) -> str:
    """One line of text output: a single row as before, many rows as the cause with their count and ranges."""
    if found.count == 1:
        row, value, new = found.entries[0]
        shown = f"“{value}” → “{new}”" if new else f"“{value}”"
        return f"第{row}行 「{found.column}」 {shown}：{found.reason}"
    value = found.common_value
    named = f" “{value}”" if value and not found.entries[0][2] else ""
    return f"「{found.column}」{named} {found.reason}：{found.count} 行（第{row_ranges(found.rows)}行）"
