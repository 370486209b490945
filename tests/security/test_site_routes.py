"""#14: a user of 柏棠镇卫生院 (site B) tries every page, JSON API route and method with 诸福屯镇卫生院's (site A's)
ids and codes in the path, the query and the form: nothing of site A comes back, nothing of it changes, and no
request fails with 500. Both sites have villages 201 东村 and 202 西村 and a 张三丰 in 东村, so a scope that keyed on
codes or names instead of the site would show. PostgreSQL only (SQLite holds one site)."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from archiveprint.accounts.services import create_user
from archiveprint.db import Database
from archiveprint.jobs import queue as jobqueue
from archiveprint.jobs.runners import run_job
from archiveprint.web.auth import PUBLIC_ENDPOINTS
from tests.pdfcheck import page_texts
from tests.security.two_sites import PASSWORD, SiteWorld, TwoSites, build_two_sites, site_counts
from tests.web.conftest import RecordingDispatcher, csrf_token

# How each placeholder of a route is filled with site A's value. A route with a placeholder not named here fails the
# test: say what of A it names.
FILLINGS: dict[str, Callable[[SiteWorld], list[str]]] = {
    "user_id": lambda a: [str(a.user_ids["clerk-ZFT"])],
    "inspection_id": lambda a: [str(a.inspection_id)],
    "folder_id": lambda a: [str(a.inspection_folder)],
    "task_id": lambda a: [str(a.task_id)],
    "page_id": lambda a: [str(a.page_id)],
    "batch_id": lambda a: [str(a.batch_id)],
    "inventory_id": lambda a: [str(a.inventory_id)],
    "key": lambda a: [a.set_key],
    "job_id": lambda a: [str(a.job_id)],
    "name": lambda a: [a.job_file],
    "number": lambda a: [a.handover, a.inventory, a.inspection],  # B has the same numbers: B's own must show
    "loan_id": lambda a: [str(a.loan_id)],
    "request_id": lambda a: [str(a.request_id)],
    "household_id": lambda a: [str(a.household)],
    "code": lambda a: [a.resident, a.folder, a.shelf],  # a resident's, a folder's or a shelf's code
    "token": lambda a: [a.upload_token, a.population_token],
    "profile_id": lambda a: [str(a.profile_id)],
    "visit_id": lambda a: [str(a.visit_id)],
    # A transfer (机构撤并) is the county's, naming both sites: its pages are county pages (not walked for a county
    # role, 403 for a site's users), so any id does.
    "event_id": lambda a: [str(a.inventory_id)],
    # 全县打印 (a print run across sites) is the county's too: 403 for a site's users, so A's print job does.
    "run_id": lambda a: [str(a.job_id)],
    "part_id": lambda a: [str(a.job_id)],
    "_rest": lambda a: [f"residents/{a.resident}", f"households/{a.household}", f"loans/{a.loan_id}"],
}
PLACEHOLDER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
NOT_VISITED = {"static", "font", "i18n.switch"}  # no data: files of the program, the language switch
EXAMPLES = ('placeholder="130123-100-201-F00017-7"',)  # the label centre's example of a folder code, no one's


def urls(rule: Rule, a: SiteWorld) -> list[str]:
    """The rule's path once per value of its placeholders (each filled with site A's)."""
    names = [m.group(2) for m in PLACEHOLDER.finditer(rule.rule)]
    unfilled = [name for name in names if name not in FILLINGS]
    assert not unfilled, f"{rule.endpoint} {rule.rule}: add a filling for {unfilled} to FILLINGS"
    if not names:
        return [rule.rule]
    out = []
    for n in range(max(len(FILLINGS[name](a)) for name in names)):
        def fill(match: re.Match[str], n: int = n) -> str:
            values = FILLINGS[match.group(2)](a)
            return values[min(n, len(values) - 1)]
        out.append(PLACEHOLDER.sub(fill, rule.rule))
    return out


def typed(a: SiteWorld) -> tuple[str, ...]:
    """What B's user typed of A's (a message may say it back: "没有档案袋 F1301231002010…")."""
    return (a.resident, a.folder, a.lent_folder, a.requested_folder, a.job_file, a.upload_token, a.population_token,
            a.printer, a.set_key)


def query(a: SiteWorld) -> str:
    return (f"?q={a.resident}&code={a.folder}&codes={a.folder}&village=201&household={a.household}"
            f"&household_id={a.household}&month=2026-11&number={a.inventory}&inspection={a.inspection_id}"
            f"&first={a.shelf}&last={a.shelf}&printer={a.printer}&open=1&year=2026&history=1&all=1&review=1"
            f"&borrower=wang&edit=1&saved=1&after=0&population=elderly&form_set=form:personal_info&on=2026-11-25"
            f"&stock=a4-3x8&outline=1&reserve=0.2")


def form_data(a: SiteWorld, token: str) -> dict[str, str]:
    """Every field a form of the app reads, filled with site A's things."""
    return {"csrf_token": token, "codes": f"{a.resident}\n{a.folder}", "code": a.folder, "q": a.resident,
            "household": str(a.household), "household_id": str(a.household), "village": "201", "villages": "201",
            "borrower": "wang", "purpose": "随访", "form_set": "form:personal_info", "set": a.set_key, "kind": "folder",
            "first": a.shelf, "last": a.shelf, "shelves": a.shelf, "counters": "甲", "from_party": "甲",
            "to_party": "乙", "number": a.inventory, "site": str(a.id), "printer": a.printer, "month": "2026-11",
            "reason": "test", "username": "clerk-ZFT", "to": a.shelf, "archive_code": a.resident,
            "form_number": "1", "form_page": "1", "schedule": "elderly", "on": "2026-11-25", "seed": "x",
            "inspector": "甲", "size": "2", "role": "admin", "user_id": str(a.user_ids["clerk-ZFT"]),
            "request_id": str(a.request_id), "loan_id": str(a.loan_id), "mode": "checkout", "confirm": "1",
            "key": "wang", "name": "王村医", "unit": "卫生室", "phone": "13800000001", "residents": "10",
            "year": "2026", "county_code": "130123", "county_name": "正定县", "township_code": "100",
            "township_name": "甲", "unit_name": "甲", "display_name": "甲", "stock": "a4-3x8", "start": "1",
            "copies": "1", "scope": "village", "visit": f"{a.resident}:elderly", "mark_found": "1",
            "mark_missing": "1", "keep_images": "full", "received_on": "2026-11-25", "position": "1",
            "fingerprint": "x", "version": "1", "opinion": "同意", "consent_by": "resident", "undo": "1"}


def body_text(response: TestResponse) -> str:
    """The response as text: a PDF's pages, an .xlsx's or .zip's members, else the body."""
    data = response.get_data()
    if data.startswith(b"%PDF"):
        return "\n".join(page_texts(data))
    if data.startswith(b"PK"):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return data.decode("utf-8", "replace")


@pytest.fixture
def sites(app: Flask, committed_db: Database) -> TwoSites:
    return build_two_sites(committed_db, app.extensions["archiveprint"].settings.instance_dir)


def _sign_in(client: FlaskClient, username: str) -> str:
    page = client.get("/login")
    answer = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf_token(page)})
    assert answer.status_code == 302, username
    return csrf_token(client.get("/account/password"))  # a page every role opens, before choosing a site too


def _check(response: TestResponse, where: str, sites: TwoSites) -> None:
    assert response.status_code < 500, f"{where}: {response.status_code}"
    leaks = sites.leaks(body_text(response), typed(sites.a) + EXAMPLES)
    assert leaks == [], f"{where} shows site A's {leaks}"


# What a county role, working in B, is not walked through: the county's own list of sites (which names them all, as
# it should) and choosing or adding a site (which would leave B).
COUNTY_PAGES = {"sites.index", "sites.enter", "sites.create", "sites.transfer", "sites.transfer_preview",
                "sites.transfer_confirm", "sites.transfer_done", "sites.transfer_document", "sites.transfer_job",
                "sites.transfer_job_status",
                # 全县打印: runs across sites, each part in its own site (tests/security/test_site_county_print.py)
                "county.index", "county.start", "county.run", "county.status", "county.rerun", "county.download",
                "county.site_zip", "county.part_file",
                # 县级管理员's users are the installation's, every site's (test_site_county.py); the other county
                # roles may not open them (403)
                "accounts.users", "accounts.create", "accounts.user", "accounts.change_role",
                "accounts.reset_password", "accounts.deactivate", "accounts.activate"}


@pytest.mark.parametrize("role", ["admin", "clerk", "county_admin", "county_supervisor", "county_print"])
def test_no_page_or_api_route_shows_another_sites_rows(app: Flask, client: FlaskClient, sites: TwoSites,
                                                       committed_db: Database, recording: RecordingDispatcher,
                                                       role: str) -> None:
    """B's administrator and clerk, and each county role working in B."""
    a = sites.a
    county = role.startswith("county")
    if county:
        with committed_db.transaction() as session:
            create_user(session, role, PASSWORD, role)
        token = _sign_in(client, role)
        answer = client.post("/sites/enter", data={"csrf_token": token, "site": str(sites.b.id)})
        assert answer.status_code == 303
    else:
        token = _sign_in(client, f"{role}-BT")
    # The control: B's user does see B's own 张三丰, so an empty page is not why nothing of A shows.
    home = client.get("/?q=张三丰").get_data(as_text=True)
    assert sites.b.resident in home and "130123101" in home
    before = site_counts(committed_db, a.id)
    visited = 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint, r.rule)):
        if rule.endpoint in NOT_VISITED or rule.endpoint in PUBLIC_ENDPOINTS or (county and rule.endpoint in
                                                                                   COUNTY_PAGES):
            continue
        for url in urls(rule, a):
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                if method == "GET":
                    for target in (url, url + query(a)):
                        _check(client.get(target), f"GET {target} ({rule.endpoint})", sites)
                        visited += 1
                else:
                    data = form_data(a, token)
                    headers = {"X-CSRFToken": token}
                    if url.startswith("/api/"):
                        response = client.open(url, method=method, json={**data, "scans": [data]}, headers=headers)
                    else:
                        response = client.open(url, method=method, data=data, headers=headers)
                    _check(response, f"{method} {url} ({rule.endpoint})", sites)
                    visited += 1
    assert visited > 280
    # Nothing of A changed: no loan returned, no user deactivated, no set deleted, no event or audit row in A.
    assert site_counts(committed_db, a.id) == before
    # Any print, label or due job a form started runs in B: no file of it holds anything of A.
    settings = app.extensions["archiveprint"].settings
    for job_id in recording.submitted:
        run_job(job_id, settings=settings, database=committed_db)
        with committed_db.reader() as session:
            outputs = list(jobqueue.get_job(session, job_id).outputs or [])
        for output in outputs:
            text = "\n".join(page_texts(Path(output))) if output.endswith(".pdf") else Path(output).read_text()
            assert sites.leaks(text) == [], f"job {job_id} wrote site A's rows"


def test_a_record_of_another_site_is_not_found(client: FlaskClient, sites: TwoSites) -> None:
    """Answered exactly as a record that does not exist (404), so an id tells nothing."""
    a = sites.a
    _sign_in(client, "admin-BT")
    for url in (f"/residents/{a.resident}", f"/households/{a.household}", f"/lending/loans/{a.loan_id}",
                f"/inventory/{a.inventory_id}", f"/inspections/{a.inspection_id}", f"/print/jobs/{a.job_id}",
                f"/users/{a.user_ids['clerk-ZFT']}", f"/intake/{a.batch_id}", f"/intake/pages/{a.page_id}",
                f"/print/jobs/{a.job_id}/files/{a.job_file}"):
        assert client.get(url).status_code == 404, url
    assert client.get(f"/api/v1/locate?q={a.folder}").get_json()["results"] == []
    # Searched by what both sites share (a name, its initials) or what only A has (a phone): B's own, or nothing.
    for query in ("张三丰", "zsf", "张", "13911112222", "东村1组"):
        for url in (f"/?q={query}", f"/locations/locate?q={query}", f"/api/v1/locate?q={query}"):
            assert sites.leaks(client.get(url).get_data(as_text=True), (query,)) == [], url
    # The same number in B is B's own: 张三丰 of 柏棠's 东村.
    assert sites.b.marker in client.get(f"/handover/{sites.b.handover}").get_data(as_text=True)


def test_the_sign_in_page_names_no_site(client: FlaskClient, sites: TwoSites) -> None:
    """Before anyone signs in there is no working site: the header shows neither site's name as if it were theirs
    (it showed the first site's)."""
    page = client.get("/login").get_data(as_text=True)
    assert sites.leaks(page) == [] and sites.b.marker not in page


def test_the_dashboards_count_the_sites_own_rows(client: FlaskClient, sites: TwoSites) -> None:
    """Counts name nobody, so the walk above cannot see them leak: each site has one folder lent from 东村 and one
    count (盘点) — a count over both sites says two."""
    _sign_in(client, "admin-BT")
    counts = client.get("/api/v1/dashboard").get_json()
    assert counts["lent"] == 1
    assert [(v["village"], v["lent"]) for v in counts["villages"] if v["lent"]] == [("201", 1)]
    assert client.get("/api/v1/loans?open=1").get_json()["count"] == 1
    assert client.get("/api/v1/inventories").get_json()["count"] == 1


def test_a_label_preview_and_an_import_check_run_in_the_site_too(client: FlaskClient, sites: TwoSites) -> None:
    """Views that open a second session of their own (the label preview draws on a reader, the import's dry run
    on a scratch copy) were not kept to the site: B's clerk saw a picture of A's folder label, and B's import was
    checked against the first site's register. They run in the request's scope now."""
    a, b = sites.a, sites.b
    _sign_in(client, "clerk-BT")
    token = csrf_token(client.get("/labels"))
    fields = {"csrf_token": token, "kind": "folder", "stock": "a4-3x8", "printer": "", "village": "", "household": "",
              "since": "", "location_title": "", "start": "1", "used": "", "copies": "1"}
    theirs = client.post("/labels/preview", data={**fields, "codes": a.folder})
    assert "data:image/png" not in theirs.get_data(as_text=True)  # nothing of A is drawn
    mine = client.post("/labels/preview", data={**fields, "codes": b.folder})
    assert mine.status_code == 200 and "data:image/png" in mine.get_data(as_text=True)
    header = "档案编号,姓名,性别,与户主关系,户主姓名,户号,现住址,所属村(居)委会\n"
    rows = "".join(f"{code},张三丰,男,户主,张三丰,H-1,新住址9号,东村\n" for code in (a.resident, b.resident))
    upload = client.post("/import", data={"csrf_token": csrf_token(client.get("/import")),
                                          "file": (io.BytesIO((header + rows).encode("utf-8-sig")), "b.csv")},
                         content_type="multipart/form-data")
    assert upload.status_code == 303, upload.get_data(as_text=True)[:500]
    report = client.get(upload.headers["Location"]).get_data(as_text=True)
    assert "属于另一机构“诸福屯镇卫生院”" in report  # A's code is refused, naming its site (#14)
    print(re.sub(r"<[^>]+>", " ", report)[-3000:])
    assert sites.leaks(report, (*typed(a), "诸福屯镇卫生院", "130123-100")) == []


# The views' uses of the app's unscoped database: each names one job by id (its row was found in scope first) or
# touches a session's last-seen time. A view reading records opens db_session() or request_database() instead.
UNSCOPED_USES = {
    "auth.py": ["state().database.engine.execution_options"],
    "forms.py": ["jobqueue.submit_or_fail(state().database", "dispatcher().check(state().database"],
    "session.py": ["scoped(state().database", "database = state().pages"],  # request_database(), db_session()
}


def test_no_view_opens_a_session_outside_the_requests_scope() -> None:
    """A preview drawn on a session of its own saw every site (the label preview did): the walk above reads text
    and cannot see a picture, so this holds the web shell to the scoped sessions."""
    web = Path(__file__).resolve().parents[2] / "archiveprint" / "web"
    found: dict[str, list[str]] = {}
    for path in sorted(web.glob("*.py")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "state().database" in line or "state().pages" in line:
                use = next((u for u in UNSCOPED_USES.get(path.name, []) if u in line), line.strip())
                found.setdefault(path.name, []).append(use)
    assert {name: sorted(set(uses)) for name, uses in found.items()} == {
        name: sorted(uses) for name, uses in UNSCOPED_USES.items()}
