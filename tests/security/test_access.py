"""#11.2: one checked-in table of endpoint → permission (docs/access.md), held against the app both ways, and every
role refused (403) on every endpoint and method exactly where the table says — on both databases."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.routing import Rule

from archiveprint.accounts.roles import PERMISSIONS, ROLES
from tests.security.access import app_table, read_table, render, roles_of
from tests.web.conftest import AuthActions, csrf_token

# The table before #11.2 let six POST endpoints be lowered to a permission every role has, unnoticed: they are named
# here as well, so the table itself cannot be lowered quietly either.
GUARDED_POSTS = {
    "lending.renew": "lend", "lending.lost": "lend", "lending.evidence": "lend", "printers.delete": "manage_printers",
    "inventory.upload": "manage_locations", "handover.handover_confirm": "manage_locations",
}


def test_the_table_lists_every_endpoint_with_the_permission_its_view_requires(app: Flask) -> None:
    declared, checked_in = app_table(app), read_table()
    assert checked_in, "docs/access.md has no rows"
    assert declared == checked_in, (
        "docs/access.md and the app disagree; if the change is intended, replace the table's rows with:\n"
        + render(declared))


def test_every_permission_in_the_table_exists_and_names_its_roles(app: Flask) -> None:
    for endpoint, access in read_table().items():
        assert access.permission in PERMISSIONS, endpoint
        assert access.roles == roles_of(access.permission), endpoint


def test_the_once_lowered_posts_keep_their_permissions() -> None:
    table = read_table()
    for endpoint, permission in GUARDED_POSTS.items():
        assert table[endpoint].permission == permission
        assert "village_doctor" not in table[endpoint].roles and "viewer" not in table[endpoint].roles


def _url(rule: Rule) -> str:
    """The rule's path with a placeholder for each argument (an id or code that does not exist)."""
    def value(match: re.Match[str]) -> str:
        converter, _name = match.group(1), match.group(2)
        return "987654" if converter == "int" else "X0"
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", value, rule.rule)


@pytest.mark.parametrize("role", list(ROLES))
def test_each_role_gets_403_exactly_where_the_table_says(app: Flask, auth: AuthActions, role: str,
                                                        site: None) -> None:
    auth.login(role)
    client = auth.client
    token = csrf_token(client.get("/"))
    table = read_table()
    checked = 0
    for rule in app.url_map.iter_rules():
        access = table.get(rule.endpoint)
        if access is None:
            continue
        allowed = role in access.roles.split(", ")
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            url = _url(rule)
            if method == "GET":
                response = client.get(url)
            else:
                response = client.open(url, method=method, data={"csrf_token": token},
                                       headers={"X-CSRFToken": token})
            where = f"{role} {method} {url} ({rule.endpoint}, {access.permission})"
            assert response.status_code < 500, where
            if allowed:
                assert response.status_code != 403, where
            else:
                assert response.status_code == 403, where
            checked += 1
    assert checked >= len(table)
