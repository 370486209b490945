"""`archiveprint user …` (#11.4): passwd, deactivate/activate, role, villages, list --json, create a village doctor."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from archiveprint.accounts.models import User, UserSession
from archiveprint.accounts.services import authenticate
from archiveprint.accounts.sessions import start_session
from archiveprint.cli import AppContext, main
from archiveprint.eventlog import Event
from tests.conftest import setup_township

PASSWORD = "correct-horse-9"


@pytest.fixture
def cli(committed_db, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", committed_db.engine.url.render_as_string(hide_password=False))
    monkeypatch.setenv("ARCHIVEPRINT_INSTANCE", str(tmp_path / "instance"))
    with committed_db.transaction() as session:
        setup_township(session)
    runner = CliRunner()

    def run(*args: str, input: str | None = None):  # type: ignore[no-untyped-def]
        return runner.invoke(main, list(args), obj=AppContext(), input=input, catch_exceptions=False)
    return run


def test_create_a_village_doctor_with_villages_and_list_as_json(cli):
    refused = cli("user", "create", "wang", "--role", "village_doctor", "--password", PASSWORD)
    assert refused.exit_code == 1
    assert "村医至少要负责一个村(居)委会" in refused.output
    made = cli("user", "create", "wang", "--role", "village_doctor", "--name", "王村医", "--village", "202",
               "--village", "东村", "--password-stdin", input=PASSWORD + "\n")
    assert made.exit_code == 0, made.output
    assert cli("user", "create", "boss", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    listed = json.loads(cli("user", "list", "--json").output)
    assert listed == [
        {"username": "boss", "display_name": "boss", "role": "admin", "site": "130123100", "active": True,
         "villages": []},
        {"username": "wang", "display_name": "王村医", "role": "village_doctor", "site": "130123100", "active": True,
         "villages": ["201", "202"]},
    ]
    unknown = cli("user", "create", "li", "--role", "village_doctor", "--village", "999", "--password", PASSWORD)
    assert unknown.exit_code == 1 and "没有这个村(居)委会" in unknown.output and "999" in unknown.output


def test_passwd_deactivate_activate_role_and_villages(cli, committed_db):
    cli("user", "create", "boss", "--role", "admin", "--password", PASSWORD)
    cli("user", "create", "zhao", "--role", "clerk", "--password", PASSWORD)
    with committed_db.transaction() as session:
        zhao = session.scalar(select(User).where(User.username == "zhao"))
        start_session(session, zhao, now=zhao.created_at)

    typed = cli("user", "passwd", "zhao", input="new-secret-12\nnew-secret-12\n")
    assert typed.exit_code == 0, typed.output
    assert "new-secret-12" not in typed.output
    mistyped = cli("user", "passwd", "zhao", input="new-secret-13\ntypo\nnew-secret-13\nnew-secret-13\n")
    assert mistyped.exit_code == 0  # asked again after the two did not match
    assert cli("user", "passwd", "zhao", "--password-stdin", input="piped-secret-1\n").exit_code == 0
    assert cli("user", "passwd", "nobody", "--password-stdin", input="x\n").exit_code == 1

    assert cli("user", "deactivate", "zhao").exit_code == 0
    assert "（已停用）" in cli("user", "list").output
    assert cli("user", "activate", "zhao").exit_code == 0
    role = cli("user", "role", "zhao", "village_doctor")
    assert role.exit_code == 1 and "村医至少要负责一个村" in role.output
    assert cli("user", "role", "zhao", "village_doctor", "--village", "201").exit_code == 0
    villages = cli("user", "villages", "zhao", "201", "202")
    assert villages.exit_code == 0 and "201 东村、202 西村" in villages.output
    last = cli("user", "deactivate", "boss")
    assert last.exit_code == 1 and "boss 是最后一个在用的管理员，不能停用" in last.output
    assert cli("user", "role", "boss", "clerk").exit_code == 1

    with committed_db.reader() as session:
        assert authenticate(session, "zhao", "piped-secret-1") is not None
        assert session.scalar(select(UserSession.ended_reason)) == "password_reset"
        kinds = session.scalars(select(Event.kind).where(Event.entity_type == "user", Event.entity_id == str(zhao.id))
                                .order_by(Event.id)).all()
        actors = set(session.scalars(select(Event.actor).where(Event.entity_type == "user")))
        stored = " ".join(str(d) for d in session.scalars(select(Event.data)))
    assert kinds == ["user.created", "user.password_reset", "user.password_reset", "user.password_reset",
                     "user.deactivated", "user.activated", "user.role_changed", "user.villages_changed"]
    assert all(actor.startswith("cli:") for actor in actors)
    assert "secret" not in stored


def test_one_site_county_users_are_listed_and_moved_to_the_site(cli, committed_db) -> None:  # type: ignore[no-untyped-def]
    """One site: no --site anywhere; a county user is listed as 全县, and given a site role it becomes the site's."""
    assert cli("user", "create", "county", "--role", "county_print", "--password", PASSWORD).exit_code == 0
    assert "county\tcounty\t全县\t县级打印" in cli("user", "list").output
    assert cli("user", "passwd", "county", "--password-stdin", input=PASSWORD + "\n").exit_code == 0
    assert cli("user", "role", "county", "clerk").exit_code == 0
    with committed_db.reader() as session:
        site_id = session.scalar(select(User.site_id).where(User.username == "county"))
    assert site_id is not None and json.loads(cli("user", "list", "--json").output)[0]["site"] == "130123100"
    assert cli("user", "role", "county", "county_admin").exit_code == 0
    with committed_db.reader() as session:
        assert session.scalar(select(User.site_id).where(User.username == "county")) is None


def test_a_county_user_created_with_a_site_says_the_site_was_not_used(cli, committed_db) -> None:  # type: ignore[no-untyped-def]
    created = cli("--site", "130123100", "user", "create", "county", "--role", "county_supervisor",
                  "--password", PASSWORD)
    assert created.exit_code == 0 and "县级督导属于全县，不属于任何机构，未使用 --site 130123100" in created.stderr
    with committed_db.reader() as session:
        assert session.scalar(select(User.site_id).where(User.username == "county")) is None
