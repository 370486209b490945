"""Domain errors: a Chinese message for the user, plus the row, field and value it concerns."""

from __future__ import annotations

from dataclasses import dataclass


class ArchiveprintError(Exception):
    """Base of every error a user may see; entrypoints turn it into a message, never a traceback."""

    status = 400

    def __init__(self, message: str, *, row: int | None = None, field: str | None = None,
                 value: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.row = row
        self.field = field
        self.value = value

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
    """The archive has not been told its own township yet."""

    status = 409


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
