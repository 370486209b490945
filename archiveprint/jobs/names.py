"""The names a print job's files are saved under: what they hold, whose, the day, in Chinese and in ASCII."""

from __future__ import annotations

import re
from datetime import date

UNSAFE_IN_NAMES = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


def clean_name(text: str) -> str:
    """Text fit for a file name on any system: no path separators or characters Windows refuses, at most 60."""
    return " ".join(UNSAFE_IN_NAMES.sub(" ", text).split()).strip(" .")[:60]


def ascii_name(text: str) -> str:
    """The ASCII fallback of a name part (what a browser without RFC 5987 saves)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_.")[:40]


def file_names(what: tuple[str, str], whose: list[tuple[str, str]], day: date) -> tuple[str, str]:
    """A download's name without its suffix, in Chinese and as its ASCII fallback: what it holds, whose, the day.

    `what` and each of `whose` are (Chinese, ASCII) pairs, e.g. (("接诊记录表", "encounter"), [("东村第1户", "201-1")])
    gives 接诊记录表-东村第1户-20261125 and encounter-201-1-20261125.
    """
    shown = [clean_name(what[0])] + [clean_name(zh) for zh, _ascii in whose if clean_name(zh)] + [f"{day:%Y%m%d}"]
    fallback = [ascii_name(what[1]) or "print"] + [ascii_name(en) for _zh, en in whose if ascii_name(en)]
    return "-".join(part for part in shown if part), "-".join([*fallback, f"{day:%Y%m%d}"])
