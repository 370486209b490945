"""#14 全县打印 (/sites/print) on one site, both backends: a 县级打印 user starts a run with every optional field
blank, follows it to the end, downloads the whole zip (a folder per site), the site's zip and a part's PDF; each
download is audited in the site; a site's own users may not open the page; a refusal is a message, not a 500."""

from __future__ import annotations

import io
import re
import zipfile

from archiveprint.accounts.models import AuditEntry
from tests.jobs.test_print_runs import villages  # noqa: F401  # the fixture: 3 villages, 6 residents
from tests.pdfcheck import read
from tests.waiting import eventually
from tests.web.conftest import csrf_token
from tests.web.test_print_pages import audit_rows, fetch

RUN = re.compile(r"/sites/print/(\d+)$")


def start(client, **values: object):  # type: ignore[no-untyped-def]
    token = csrf_token(client.get("/sites/print"))
    return client.post("/sites/print", data={"csrf_token": token, "what": "form:personal_info", "month": "",
                                             "villages": "", **values})


def run_id_of(response) -> int:  # type: ignore[no-untyped-def]
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    found = RUN.search(response.headers["Location"])
    assert found, response.headers["Location"]
    return int(found.group(1))


def finished(client, run_id: int) -> dict[str, object]:  # type: ignore[no-untyped-def]
    def ended() -> dict[str, object] | None:
        state = client.get(f"/sites/print/{run_id}.json").get_json()
        return state if state["finished"] else None
    return eventually(ended, what=f"county run {run_id} finished", seconds=90, every=0.2)


def test_a_county_run_starts_with_blank_fields_and_downloads_whole_per_site_and_per_part(
        client, auth, villages, committed_db):  # noqa: F811
    auth.login("county_print")
    page = client.get("/sites/print").get_data(as_text=True)
    assert "全县打印" in page and 'name="sites"' in page
    run_id = run_id_of(start(client))
    state = finished(client, run_id)
    assert (state["status"], state["pages"], state["percent"]) == ("done", 6, 100)
    assert [(site["status"], site["pages"], site["parts"]) for site in state["sites"]] == [("done", 6, 3)]

    page = client.get(f"/sites/print/{run_id}").get_data(as_text=True)
    assert "1 个机构，3 个村，每村一个文件" in page and "jobs.js" not in page
    zip_url = re.search(r'id="run-zip" href="([^"]+)"', page).group(1)
    with zipfile.ZipFile(io.BytesIO(fetch(client, zip_url))) as archive:
        names = archive.namelist()
        assert [name.split("/", 1)[1] for name in names] == ["001-城关社区.pdf", "201-东村.pdf", "202-西村.pdf"]
        assert len({name.split("/", 1)[0] for name in names}) == 1  # the site's folder
        assert len(read(archive.read(names[1])).pages) == 2
    site_url = re.search(r'href="([^"]+\.zip)" data-site-zip', page).group(1)
    with zipfile.ZipFile(io.BytesIO(fetch(client, site_url))) as archive:
        assert len(archive.namelist()) == 3
    part_url = re.search(r'href="(/sites/print/\d+/parts/\d+/[^"]+\.pdf)"', page).group(1)
    assert len(read(fetch(client, part_url)).pages) == 3
    exports = audit_rows(committed_db, "export")
    assert len(exports) == 3 and all(row.site_id is not None for row in exports)
    prints = audit_rows(committed_db, "print")
    assert len(prints) == 6 and {row.site_id for row in prints} == {exports[0].site_id}

    listing = client.get("/sites/print").get_data(as_text=True)
    assert f"/sites/print/{run_id}" in listing


def test_a_county_run_of_the_monthly_packet_and_a_refusal(client, auth, villages, committed_db):  # noqa: F811
    auth.login("county_admin")
    run_id = run_id_of(start(client, what="due", month="2026-11"))  # recorded at once, planned by the workers
    state = finished(client, run_id)  # nobody has a service due: the run ends saying so on its page
    assert state["status"] == "failed" and "没有到期的服务" in state["error"], state
    body = client.get(f"/sites/print/{run_id}").get_data(as_text=True)
    assert 'id="job-error"' in body and "没有开始打印" in body and "没有到期的服务" in body
    assert "Traceback" not in body and 'id="run-parts"' in body and "data-part-status" not in body
    response = start(client, villages="999")
    assert response.status_code == 404 and "所选机构都没有这个村(居)委会" in response.get_data(as_text=True)
    response = start(client, sites=["NOPE"])
    assert response.status_code == 404 and "没有机构代码为 NOPE 的机构" in response.get_data(as_text=True)
    run_id = run_id_of(start(client, villages="东村 202"))
    assert finished(client, run_id)["pages"] == 3
    with committed_db.reader() as session:
        assert session.query(AuditEntry).filter(AuditEntry.action == "print").count() == 3


def test_site_users_may_not_open_the_county_print_page(client, auth, villages):  # noqa: F811
    for role in ("admin", "clerk", "county_supervisor"):
        auth.login(role, username=f"{role}-1")
        assert client.get("/sites/print").status_code == 403
        assert client.post("/sites/print", data={"what": "form:personal_info"}).status_code in (400, 403)
        auth.logout()
