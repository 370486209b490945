"""Domain errors: a Chinese message for the user, plus the row, field and value it concerns."""

from __future__ import annotations

from dataclasses import dataclass


class ArchiveprintError(Exception):
    """Base of every error a user may see; entrypoints turn it into a message, never a traceback.

    The message says what is wrong or missing, in words every entrypoint can show. What to do about it differs per
    entrypoint, so it travels beside the message: `hint` is the command-line advice only the CLI prints
    ("archiveprint layout apply 布局文件.yaml"), `action` names the step a web page offers as a link (web/errors.py
    maps it to a page; `action_args` fill in the page's address, e.g. a village code).
    """

    status = 400

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None,
                 value: object = None, hint: str | None = None, action: str | None = None,
                 action_args: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.field = field
        self.value = value
        self.hint = hint
        self.action = action
        self.action_args = action_args or {}

    def __str__(self) -> str:
        parts = []
        if self.row is not None:
            parts.append(f"第{self.row}行")
        if self.field:
            parts.append(f"「{self.field}」")
        if self.value not in (None, ""):
            parts.append(f"值“{self.value}”")
        prefix = "，".join(parts)
        return f"{prefix}：{self.message}" if prefix else self.message


class InvalidValue(ArchiveprintError):
    """A value that breaks a rule (check digit, date, segment)."""


class NotFound(ArchiveprintError):
    status = 404


class Conflict(ArchiveprintError):
    """The database already holds something that contradicts the request (a duplicate, a race lost)."""

    status = 409


class NotConfigured(ArchiveprintError):
    """Something the archive needs has not been set up yet (its own township, the storage layout)."""

    status = 409


TOWNSHIP_NOT_SET = "尚未设置本院所属乡镇"


class TownshipNotSet(NotConfigured):
    """The archive has not been told its own township yet (a fresh installation): the web app shows its first-run
    setup page instead of an error."""

    def __init__(self) -> None:
        super().__init__(TOWNSHIP_NOT_SET, hint="请先运行 archiveprint township set（或载入演示数据）",
                         action="setup_township")


class PermissionDenied(ArchiveprintError):
    status = 403


BUSY_MESSAGE = "系统正忙，请稍后重试"


class Busy(ArchiveprintError):
    """The database stayed locked by another writer (a long import) past the wait allowed: try again shortly."""

    status = 503

    def __init__(self, message: str = BUSY_MESSAGE) -> None:
        super().__init__(message)


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file: where, what, why (reported, not raised)."""

    row: int
    column: str
    value: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"row": self.row, "column": self.column, "value": self.value, "reason": self.reason}
