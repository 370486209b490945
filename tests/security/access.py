"""The checked-in access table (docs/access.md) and the same facts read off a running app, for the security tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask

from archiveprint.accounts.roles import PERMISSIONS, ROLES
from archiveprint.web.auth import PUBLIC_ENDPOINTS

TABLE = Path(__file__).resolve().parents[2] / "docs" / "access.md"
ROW = re.compile(r"^\| `(?P<endpoint>[\w.]+)` \| (?P<methods>[A-Z, ]+) \| `(?P<path>[^`]+)` \| (?P<permission>[\w]+) "
                 r"\| (?P<roles>[\w, ]+) \|$")


@dataclass(frozen=True)
class Access:
    """One endpoint: its methods and path, the permission it requires and the roles that hold it."""

    methods: str
    path: str
    permission: str
    roles: str

    def row(self, endpoint: str) -> str:
        return f"| `{endpoint}` | {self.methods} | `{self.path}` | {self.permission} | {self.roles} |"


def roles_of(permission: str) -> str:
    return ", ".join(role for role in ROLES if role in PERMISSIONS[permission])


def read_table() -> dict[str, Access]:
    rows: dict[str, Access] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        found = ROW.match(line)
        if found:
            rows[found["endpoint"]] = Access(found["methods"], found["path"], found["permission"], found["roles"])
    return rows


def app_table(app: Flask) -> dict[str, Access]:
    """What the app declares: every endpoint but the public ones, with the permission its view requires."""
    rows: dict[str, Access] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        permission = getattr(app.view_functions[rule.endpoint], "permission", "NONE")
        methods = ", ".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        rows[rule.endpoint] = Access(methods, rule.rule, permission,
                                     roles_of(permission) if permission in PERMISSIONS else "")
    return rows


def render(rows: dict[str, Access]) -> str:
    return "\n".join(rows[endpoint].row(endpoint) for endpoint in sorted(rows))
