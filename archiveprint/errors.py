"""Domain errors: a Chinese message for the user (translatable by the shells), plus the row, field and value."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

Translate = Callable[[str], str]


def _same(text: str) -> str:
    return text


class Message(str):
    """A message as the domain says it (Chinese, placeholders filled) that keeps its template and params, so a shell
    that knows the reader's language can show it translated (`render`). It is the Chinese text for everything else:
    compared, joined, stored and printed as it is.

    A param that is itself a Message (a state word marked with N_, another error's message) is translated with it.
    """

    template: str
    params: dict[str, object]

    def __new__(cls, template: str, params: Mapping[str, object] | None = None) -> Message:
        if isinstance(template, Message):  # a marked constant, or a message raised as it is
            template, params = template.template, {**template.params, **(params or {})}
        values = dict(params or {})
        text = super().__new__(cls, template.format(**values) if values else template)
        text.template = str(template)
        text.params = values
        return text

    def render(self, translate: Translate = _same) -> str:
        """The message in the reader's language (`translate` is the shell's gettext), placeholders filled; as
        written when the translation's placeholders do not fit the params (a mistake in the catalogue)."""
        if translate is _same or not self.template:  # gettext("") is the catalogue's header
            return str(self)
        template = translate(self.template)
        if not self.params:
            return template
        try:
            return template.format(**{key: value.render(translate) if isinstance(value, Message) else value
                                      for key, value in self.params.items()})
        except (KeyError, IndexError, ValueError):
            return str(self)

    def as_values(self) -> dict[str, object]:
        """The text, template and params as plain values, for a report kept as JSON (from_values reads them back);
        a param that is not a plain value (a date) is kept as text."""
        def plain(value: object) -> object:
            if isinstance(value, Message):
                return {"message": value.as_values()}
            return value if value is None or isinstance(value, str | int | float) else str(value)

        return {"text": str(self), "template": self.template,
                "params": {key: plain(value) for key, value in self.params.items()}}

    @classmethod
    def from_values(cls, values: Mapping[str, object]) -> Message:
        params = values.get("params") or {}
        assert isinstance(params, dict)
        try:
            return cls(str(values["template"]), {
                key: cls.from_values(value["message"]) if isinstance(value, dict) and "message" in value else value
                for key, value in params.items()})
        except (KeyError, IndexError, ValueError):  # a date kept as text under a date's format: as it was shown
            return cls(str(values.get("text", values["template"])))


def N_(message: str) -> Message:  # the gettext convention: mark now, translate later
    """Mark a message defined away from its raise (a constant, a table entry) for extraction; it is the same text.

    The domain never translates: a shell that knows the reader's language (the web app) passes its gettext to
    ArchiveprintError.render. Messages are Chinese (the msgid) with {name} placeholders filled from `params`, so a
    translation can move the value; an error raised with a literal message needs no mark (babel.cfg extracts the
    first argument and `field=` of every error class). A marked word used as a param (a state, a label) is
    translated inside the message that shows it.
    """
    return Message(message)


def joined(items: Iterable[object], separator: str = N_("、")) -> Message:
    """Several words or messages shown as one param (the choices, the folders in the way), the Chinese text the
    same as separator.join(items): a shell translates each item that is a message, and the separator."""
    params: dict[str, object] = {f"item{number}": item for number, item in enumerate(items)}
    template = "{separator}".join("{" + key + "}" for key in params)  # no msgid: only its parts are translated
    return Message(template, {**params, "separator": Message(separator)} if params else None)


class ArchiveprintError(Exception):
    """Base of every error a user may see; entrypoints turn it into a message, never a traceback.

    The message says what is wrong or missing, in words every entrypoint can show. What to do about it differs per
    entrypoint, so it travels beside the message: `hint` is the command-line advice only the CLI prints
    ("archiveprint layout apply 布局文件.yaml"), `action` names the step a web page offers as a link (web/errors.py
    maps it to a page; `action_args` fill in the page's address, e.g. a village code).
    """

    status = 400

    def __init__(self, message: str, *, params: Mapping[str, object] | None = None, row: int | None = None,
                 field: str | None = None, value: object = None, hint: str | None = None,
                 action: str | None = None, action_args: dict[str, str] | None = None) -> None:
        self.message = Message(message, params)  # the Chinese text, which keeps its template and params
        self.template = self.message.template
        self.params = self.message.params
        super().__init__(self.message)
        self.row = row
        self.field = field
        self.value = value
        self.hint = hint
        self.action = action
        self.action_args = action_args or {}

    def __str__(self) -> str:
        return self.render()

    def render(self, translate: Translate = _same) -> str:
        """The whole message — row, field, value, then what is wrong — in the reader's language (`translate` is the
        shell's gettext; the default leaves the Chinese as written)."""
        parts = []
        if self.row is not None:
            parts.append(translate(N_("第{row}行")).format(row=self.row))
        if self.field:
            parts.append(translate(N_("「{field}」")).format(field=translate(self.field)))
        if self.value not in (None, ""):
            value = self.value.render(translate) if isinstance(self.value, Message) else self.value
            parts.append(translate(N_("值“{value}”")).format(value=value))
        message = self.translated(translate)
        return translate(N_("{where}：{message}")).format(where=translate(N_("，")).join(parts), message=message) \
            if parts else message

    def translated(self, translate: Translate = _same) -> str:
        """The message alone, translated, placeholders filled (untranslated: `message`, which a shell may extend)."""
        if not isinstance(self.message, Message):  # extended by a shell (cli/forms.py adds its option): as it is
            return self.message
        return self.message.render(translate)


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


TOWNSHIP_NOT_SET = N_("尚未设置本院所属乡镇")


class TownshipNotSet(NotConfigured):
    """The archive has not been told its own township yet (a fresh installation): the web app shows its first-run
    setup page instead of an error."""

    def __init__(self) -> None:
        super().__init__(TOWNSHIP_NOT_SET, hint="请先运行 archiveprint township set（或载入演示数据）",
                         action="setup_township")


class PermissionDenied(ArchiveprintError):
    status = 403


BUSY_MESSAGE = N_("系统正忙，请稍后重试")


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
