"""Which strings of the Python sources are messages: babel's extractor for babel.cfg (tests check with it too)."""

from __future__ import annotations

import ast
import io
from collections.abc import Collection, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import IO, Any

from babel.messages.extract import DEFAULT_KEYWORDS, extract_python

PACKAGE = Path(__file__).resolve().parent
BASE = "ArchiveprintError"
# gettext's names (DEFAULT_KEYWORDS has _, gettext, ngettext … and errors.N_) and the web's lazy_gettext.
KEYWORDS = frozenset(DEFAULT_KEYWORDS) | {"_l"}
MESSAGE = "Message"  # errors.Message(template, params): a message kept for a shell to translate


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else node.attr if isinstance(node, ast.Attribute) else None


@cache
def error_classes(package: Path = PACKAGE) -> frozenset[str]:
    """ArchiveprintError and every subclass defined anywhere in the package, found in the source (nothing is
    imported), so a new error class is extracted (and checked by tests/test_messages.py) without being listed."""
    classes = [node for path in sorted(package.rglob("*.py")) for node in ast.walk(ast.parse(path.read_bytes()))
               if isinstance(node, ast.ClassDef)]
    found = {BASE}
    while True:
        more = {c.name for c in classes if c.name not in found and any(_name(b) in found for b in c.bases)}
        if not more:
            return frozenset(found)
        found |= more


def message_calls(tree: ast.AST) -> Iterator[ast.Call]:
    """Every construction of an error (a class in error_classes) or of errors.Message."""
    names = error_classes() | {MESSAGE}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _name(node.func) in names:
            yield node


def _text(node: ast.expr | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def extract(fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str],
            options: Mapping[str, Any]) -> Iterator[tuple[int, str | None, str | list[str | None], list[str]]]:
    """babel's Python extraction (gettext calls and N_ marks), plus what an error shows that no gettext call holds:
    the literal message of every error raised (or Message made), and every Chinese `field=` name (render
    translates the field; names passed on to an error, e.g. shelf_range(…, field="移交范围"), count too).

    babel reads a message's arguments by the name it is yielded with: a name the command did not pass (_l without
    -k _l) and the error classes are yielded without one, which means "the first argument".
    """
    source = fileobj.read()
    for lineno, name, messages, comments in extract_python(io.BytesIO(source), KEYWORDS | set(keywords),
                                                           comment_tags, options):
        yield lineno, name if name in keywords else None, messages, comments
    tree = ast.parse(source)
    for call in message_calls(tree):
        message = _text(call.args[0]) if call.args else None
        if message:
            yield call.lineno, None, message, []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                field = _text(keyword.value) if keyword.arg == "field" else None
                if field and not field.isascii():  # ASCII names are the API's parameters (q, scans), not words
                    yield keyword.value.lineno, None, field, []
