"""The import page recognises a file already imported into an unchanged register; a checkbox reads it anyway."""

from __future__ import annotations

from io import BytesIO

from sqlalchemy import select

from archiveprint.accounts.models import AuditEntry
from archiveprint.register import services
from archiveprint.register.models import ImportRun, Resident
from tests.conftest import ACTOR
from tests.web.conftest import csrf_token, good_export
from tests.web.test_register_pages import count


def upload(client, path, *, force: bool = False):  # type: ignore[no-untyped-def]
    page = client.get("/import")
    data = {"csrf_token": csrf_token(page), "file": (BytesIO(path.read_bytes()), path.name), "add_villages": "y"}
    if force:
        data["force"] = "y"
    return client.post("/import", data=data, content_type="multipart/form-data")


def import_and_confirm(client, path) -> None:  # type: ignore[no-untyped-def]
    location = upload(client, path).headers["Location"]
    report = client.get(location)
    confirmed = client.post(location + "/apply", data={"csrf_token": csrf_token(report)})
    assert "导入完成" in client.get(confirmed.headers["Location"]).get_data(as_text=True)


def test_a_file_already_imported_is_recognised_on_the_check(client, auth, township, committed_db, tmp_path,
                                                              app):
    auth.login("clerk")
    path = good_export(tmp_path / "register.csv")
    import_and_confirm(client, path)
    with committed_db.reader() as session:
        run_id = session.scalars(select(ImportRun.id)).one()

    response = upload(client, path)
    assert response.status_code == 303
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'id="already-imported"' in html
    assert f"导入（第 {run_id} 次导入），未作改动" in html and "此文件已于 " in html
    assert "确认导入" not in html
    assert '<span class="n">3</span>未变' in html.replace("\n", "").replace("    ", "")
    assert count(committed_db, ImportRun) == 1 and count(committed_db, Resident) == 3
    token = response.headers["Location"].rsplit("/", 1)[1]
    folder = app.extensions["archiveprint"].settings.instance_dir / "uploads" / token
    assert sorted(p.name for p in folder.iterdir()) == ["meta.json"]  # nothing to confirm: the file is gone
    with committed_db.reader() as session:
        details = list(session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "import")))
    assert details[-1] == f"already imported as run {run_id}: not read"


def test_the_checkbox_reads_the_file_anyway(client, auth, township, committed_db, tmp_path):
    auth.login("clerk")
    path = good_export(tmp_path / "register.csv")
    import_and_confirm(client, path)
    assert 'id="force"' in client.get("/import").get_data(as_text=True)
    html = client.get(upload(client, path, force=True).headers["Location"]).get_data(as_text=True)
    assert "already-imported" not in html
    assert "文件与档案一致，没有需要写入的变化" in html


def test_after_a_register_change_the_file_is_checked_and_can_be_applied_again(client, auth, township,
                                                                             committed_db, tmp_path):
    auth.login("clerk")
    path = good_export(tmp_path / "register.csv")
    import_and_confirm(client, path)
    with committed_db.transaction() as session:
        liu = session.scalars(select(Resident).where(Resident.name == "刘备")).one()
        services.update_resident(session, liu, {"phone": "13700000000"}, actor=ACTOR)

    location = upload(client, path).headers["Location"]
    html = client.get(location).get_data(as_text=True)
    assert "already-imported" not in html and "检查通过，尚未写入" in html and "13700000000" in html
    import_and_confirm(client, path)
    with committed_db.reader() as session:
        assert session.scalars(select(Resident.phone).where(Resident.name == "刘备")).one() == "13900000001"
    assert count(committed_db, ImportRun) == 2
