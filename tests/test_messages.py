"""Every domain message can be translated (#16.12): no error is built from an f-string, a %-format or a concatenation,
and a template's {placeholders} are the params it is given. A static scan of archiveprint/, no import needed."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from archiveprint.msgids import MESSAGE, error_classes, message_calls

PACKAGE = Path(__file__).resolve().parents[1] / "archiveprint"
# Every file is scanned; a file may be listed here only while a change converts it (none now).
NOT_YET: set[str] = set()  # files not yet converted: none left


def _calls() -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where not in NOT_YET:
            found += [(where, call) for call in message_calls(ast.parse(path.read_bytes()))]
    return found


def _built(node: ast.expr) -> bool:
    """Text put together at run time: an f-string, "…" % x, "…" + x, "…".format(…)."""
    if isinstance(node, ast.JoinedStr):
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format"


def _placeholders(template: str) -> set[str] | None:
    """The names a template fills; None for text whose braces are not placeholders (a format shown literally)."""
    names = {name for _text, name, _spec, _conversion in string.Formatter().parse(template) if name is not None}
    return names if all(name.isidentifier() and name.isascii() for name in names) else None


def _params(call: ast.Call) -> ast.expr | None:
    if getattr(call.func, "id", getattr(call.func, "attr", None)) == MESSAGE:
        return call.args[1] if len(call.args) > 1 else None
    return next((keyword.value for keyword in call.keywords if keyword.arg == "params"), None)


def test_the_scan_sees_the_error_classes_and_their_raises():
    assert {"ArchiveprintError", "InvalidValue", "NotFound", "Conflict", "NotConfigured", "PermissionDenied", "Busy",
            "TownshipNotSet", "BarcodeTooSmall", "OccupiedShelves", "NeedsRelayout", "TooManyAttempts"} \
        <= error_classes()
    assert len(_calls()) > 300


def test_the_checks_catch_what_they_are_for():
    raises = ast.parse('raise InvalidValue(f"第{n}行")\nraise NotFound("第%d行" % n)\nraise Conflict("村" + name)\n'
                       'raise InvalidValue("{a}".format(a=1))\nraise InvalidValue("第{n}行", params={"n": n})')
    verdicts = [_built(call.args[0]) for call in message_calls(raises)]
    assert verdicts == [True, True, True, True, False]
    assert _placeholders("第{row}行的{code:>3}") == {"row", "code"}
    assert _placeholders("格式应为：表单编号: {字段: 版本}") is None


def test_no_message_is_put_together_at_run_time():
    built = [f"{where}:{call.lineno}" for where, call in _calls() if call.args and _built(call.args[0])]
    assert built == [], "a message is a template with {placeholders} and params=, not an f-string: " \
        + ", ".join(built)


def test_no_marked_constant_is_put_together_at_run_time():
    built = []
    for path in sorted(PACKAGE.rglob("*.py")):
        where = path.relative_to(PACKAGE).as_posix()
        if where in NOT_YET:
            continue
        built += [f"{where}:{node.lineno}" for node in ast.walk(ast.parse(path.read_bytes()))
                  if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "N_"
                  and node.args and _built(node.args[0])]
    assert built == []


def test_every_template_is_given_its_params():
    wrong = []
    for where, call in _calls():
        first = call.args[0] if call.args else None
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            continue
        names = _placeholders(first.value)
        params = _params(call)
        if names is None or (not names and params is None):
            continue
        if isinstance(params, ast.Dict):
            keys = {key.value for key in params.keys if isinstance(key, ast.Constant)}
            if keys != names:
                wrong.append(f"{where}:{call.lineno} {sorted(names)} ≠ {sorted(keys)}")
        elif params is None:
            wrong.append(f"{where}:{call.lineno} {sorted(names)} without params")
    assert wrong == []
