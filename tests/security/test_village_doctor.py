"""#11.1: a village doctor of 西村 (202) signs in and tries every page, API route, print and label job and request on
东村 (201): nothing of 东村's people comes back, on both databases. The same doctor does see 西村."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from archiveprint.accounts.models import User
from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.runners import run_job
from archiveprint.lending.models import LoanRequest
from archiveprint.lending.requests import request_folders
from archiveprint.lending.rules import LendingRules, load_rules, shipped_rules_file
from archiveprint.lending.services import check_out
from archiveprint.register import services
from archiveprint.register.codes import folder_code
from tests.conftest import ACTOR
from tests.lending.conftest import PASSWORD, T0, build_archive
from tests.pdfcheck import page_texts
from tests.web.conftest import RecordingDispatcher, csrf_token


@dataclass(frozen=True)
class World:
    """东村's ids and the strings that must never reach the 西村 doctor; 西村's name the doctor must see."""

    east_resident: str
    east_household: int
    east_folder: str
    loan_id: int
    request_id: int
    secrets: tuple[str, ...]
    west_name: str


@pytest.fixture
def world(committed_db: Database) -> World:
    rules: LendingRules = load_rules([shipped_rules_file()])
    with committed_db.transaction() as session:
        made = build_archive(session, now=T0)
        homes = made["homes"]
        codes = [folder_code(h.village.full_code, h.number).value for h in homes]
        loan = check_out(session, codes[0], borrower=made["doctor"], purpose="随访", rules=rules, actor=ACTOR,
                         now=T0 + timedelta(hours=1))
        request_folders(session, [codes[1]], borrower=made["doctor"], purpose="随访", rules=rules, actor=ACTOR,
                        now=T0 + timedelta(hours=2))
        request = session.scalars(select(LoanRequest)).one()
        doctor = create_user(session, "li-cunyi", PASSWORD, "village_doctor", display_name="李村医")
        doctor.villages = [services.find_village(session, "202")]
        east_people = [m for h in homes for m in h.members]
        secrets = (*[m.name for m in east_people], *[m.archive_code for m in east_people],
                   *[h.head_name for h in homes], *codes)
        return World(east_resident=east_people[0].archive_code, east_household=homes[0].id, east_folder=codes[0],
                     loan_id=loan.id, request_id=request.id, secrets=secrets,
                     west_name=made["west"][0].members[0].name)


def _sign_in(client: FlaskClient) -> str:
    page = client.get("/login")
    client.post("/login", data={"username": "li-cunyi", "password": PASSWORD, "csrf_token": csrf_token(page)})
    return csrf_token(client.get("/"))


def _leaks(body: str, world: World, typed: tuple[str, ...] = ()) -> list[str]:
    """The secrets on a page, apart from what the doctor typed (a search box shows its own query again)."""
    for value in typed:
        body = body.replace(value, "")
    return [secret for secret in world.secrets if secret in body]


def _url(rule_path: str, world: World) -> str:
    values = {"code": world.east_resident, "household_id": str(world.east_household), "loan_id": str(world.loan_id),
              "request_id": str(world.request_id), "number": world.east_folder}

    def value(match: re.Match[str]) -> str:
        return values.get(match.group(2), "1")
    return re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", value, rule_path)


def test_every_get_route_shows_nothing_of_another_village(app: Flask, client: FlaskClient, world: World) -> None:
    _sign_in(client)
    # The control: the doctor's own village is there, so an empty page is not why nothing leaks.
    assert world.west_name in client.get(f"/?q={world.west_name}").get_data(as_text=True)
    query = (f"?q={world.secrets[0]}&code={world.east_resident}&codes={world.east_folder}&village=201"
             f"&household={world.east_household}&household_id={world.east_household}&month=2026-11")
    typed = (world.secrets[0], world.east_resident, world.east_folder)
    visited = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()) or rule.endpoint in ("static", "font", "i18n.switch"):
            continue
        url = _url(rule.rule, world)
        for target in (url, url + query):
            response = client.get(target)
            pdf = response.mimetype == "application/pdf"
            body = "\n".join(page_texts(response.get_data())) if pdf else response.get_data(as_text=True)
            assert response.status_code < 500, target
            # What the doctor typed (in the path or the query) may come back in a message; nothing else may.
            echoed = typed if target.endswith(query) else typed[1:]
            assert _leaks(body, world, echoed) == [], f"{target} ({rule.endpoint}) shows another village's people"
            visited += 1
    assert visited > 80
    # A record of another village is not found, exactly as one that does not exist.
    assert client.get(f"/residents/{world.east_resident}").status_code == 404
    assert client.get(f"/households/{world.east_household}").status_code == 404


def test_posts_print_label_and_request_jobs_refuse_another_village(app: Flask, client: FlaskClient, world: World,
                                                                  recording: RecordingDispatcher,
                                                                  committed_db: Database) -> None:
    token = _sign_in(client)
    east = "\n".join([world.east_resident, world.east_folder])
    attempts = {
        f"/residents/{world.east_resident}/id-number": {},
        "/print/preview": {"form_set": "personal_info", "codes": east},
        "/print/start": {"form_set": "personal_info", "codes": east},
        "/print/start?household": {"form_set": "personal_info", "household": "201-1"},
        "/labels/preview": {"kind": "folder", "codes": east},
        "/labels/start": {"kind": "folder", "codes": east},
        "/labels/start?household": {"kind": "folder", "household": "201-1"},
        "/lending/request": {"codes": world.east_folder, "purpose": "随访"},
        "/locations/picklist": {"codes": east},
        "/api/v1/scans": {},
    }
    for url, data in attempts.items():
        response = client.post(url.split("?")[0], data={**data, "csrf_token": token}, headers={"X-CSRFToken": token})
        assert response.status_code < 500, url
        assert _leaks(response.get_data(as_text=True), world, (world.east_resident, world.east_folder)) == [], url
    with committed_db.reader() as session:
        assert session.scalars(select(LoanRequest)).all()[0].id == world.request_id  # no request for 东村 was made
    # Any print or label job that was accepted runs with the doctor's scope: no 东村 name in any file it writes.
    settings = app.extensions["archiveprint"].settings
    for job_id in recording.submitted:
        run_job(job_id, settings=settings, database=committed_db)
        with committed_db.reader() as session:
            job = jobqueue.get_job(session, job_id)
            outputs = list(job.outputs or [])
        for output in outputs:
            text = "\n".join(page_texts(Path(output)))
            assert _leaks(text, world) == [], f"job {job_id} printed another village's people"


def test_a_print_job_runs_with_the_scope_of_the_user_who_started_it(app: Flask, world: World,
                                                                   committed_db: Database) -> None:
    """Even a job that names 东村's codes (as a job queued before a doctor's villages changed would) prints nobody
    of 东村 when a 西村 doctor started it; the same job started by a clerk prints them."""
    settings = app.extensions["archiveprint"].settings
    with committed_db.transaction() as session:
        doctor = session.scalars(select(User).where(User.username == "li-cunyi")).one()
        clerk = session.scalars(select(User).where(User.username == "clerk1")).one()
        jobs = {who.username: jobqueue.create_job(session, "forms", {
            "set": "personal_info", "scope": {"codes": [world.east_resident]}, "options": {},
            "filename": "scope.pdf", "user_id": who.id, "today": "2026-11-25"}, actor=who.username).id
            for who in (doctor, clerk)}
    for job_id in jobs.values():
        run_job(job_id, settings=settings, database=committed_db)
    with committed_db.reader() as session:
        done = {name: jobqueue.get_job(session, job_id) for name, job_id in jobs.items()}
    printed = "\n".join(page_texts(Path(done["clerk1"].outputs[0])))
    assert world.secrets[0] in printed  # the control: the job itself does print 东村 for a clerk
    mine = done["li-cunyi"]
    assert mine.pages == 0 and mine.status in ("done", "failed")
    for output in mine.outputs or []:
        assert _leaks("\n".join(page_texts(Path(output))), world) == []
