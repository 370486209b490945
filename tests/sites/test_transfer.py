"""#14 transfers between sites (机构撤并) on a populated PostgreSQL database: every table's rows counted before and
after, the receiving site sees the register with its loans and location history, the sending site no longer does,
a closed site refuses changes, a dry run changes nothing, an open loan refuses the transfer; SQLite refuses."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.accounts.scope import SiteClosed
from archiveprint.errors import Conflict, InvalidValue
from archiveprint.eventlog import Event, list_events
from archiveprint.forms.services import print_forms, resolve_scope
from archiveprint.labels.services import count_labels, label_stocks, resolve_label_scope
from archiveprint.lending.models import Borrower
from archiveprint.lending.queries import list_register, status_provider
from archiveprint.lending.services import check_out
from archiveprint.locations.handover import find_handover
from archiveprint.locations.models import FolderPosition, Shelf
from archiveprint.locations.queries import find_places, list_movements, list_shelves
from archiveprint.locations.services import move_folder
from archiveprint.register import services
from archiveprint.register.importer import import_file
from archiveprint.register.models import Household, Resident, Village
from archiveprint.register.queries import find_residents
from archiveprint.sites.models import Site
from archiveprint.sites.services import add_site
from archiveprint.sites.transfer import Transfer, custody_counts, transfer_villages
from tests.conftest import ACTOR, setup_township
from tests.pdfcheck import compact, page_texts
from tests.sites.conftest import County, code, count_rows


def carry_out(county: County, *villages: str, dry_run: bool = False, expected: str | None = None) -> Transfer:
    return transfer_villages(county.session, "BT", county.first.code, villages=villages,
                             supervisor="县卫生健康局 周科长", providers=[status_provider(county.rules)],
                             dry_run=dry_run, expected=expected, actor=ACTOR, now=county.clock())


def test_sqlite_refuses_a_transfer(session: Session) -> None:
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("the refusal is SQLite's")
    setup_township(session)
    with pytest.raises(Conflict, match="PostgreSQL"):
        transfer_villages(session, "130123100", "BT", actor=ACTOR, now=datetime(2026, 11, 25, 8, 0))


def test_whole_site_transfer_moves_every_row_it_should_and_loses_none(county: County) -> None:
    s = county.session
    before = count_rows(s)
    done = carry_out(county)
    s.flush()
    after = count_rows(s)
    # 7 folders on shelves (one of them in the closed-records area), 1 never shelved: all go over
    assert done.folders == 7 and done.unshelved == 1 and done.closed_area == 1 and done.number == "YJ-2026-0001"
    assert [(p.village, p.placed) for p in done.placements] == [("130123101201", 3), ("130123101202", 4)]
    added = {"handovers": 1, "handover_items": 7,
             # handover.recorded, 7 folder.released, 2 location.shelved, 1 folder.closed, site.transferred
             "events": 1 + 7 + 2 + 1 + 1,
             # released 7, shelved 6 of them and the never-shelved one, 1 into the closed area
             "folder_movements": 7 + 7 + 1,
             "folder_positions": -7 + 7 + 1}
    assert {name: after[name] - before[name] for name in before if after[name] != before[name]} == added

    event = s.scalar(select(Event).where(Event.kind == "site.transferred"))
    assert event is not None and event.site_id == county.first.id and event.id == done.event_id
    assert event.data["from"] == "BT" and event.data["to"] == county.first.code
    assert event.data["villages"] == ["130123101201", "130123101202"]
    assert event.data["before"]["source"]["households"] == 8 and event.data["after"]["source"]["households"] == 0
    target_before, target_after = done.before["target"], done.after["target"]
    assert target_after["households"] == target_before["households"] + 8
    assert target_after["residents"] == target_before["residents"] + 8
    assert target_after["loans"] == target_before["loans"] + 1
    assert target_after["movements"] == target_before["movements"] + done.before["source"]["movements"] + 15
    assert custody_counts(s, county.second.id) | {"shelves": 0} == dict.fromkeys(done.after["source"], 0)

    second = s.get(Site, county.second.id)
    assert second is not None and second.status == "closed" and second.merged_into_id == county.first.id

    # the receiving site: the register, its returned loan with the old site's borrower, the whole location history
    county.scope(county.first)
    found = find_residents(s, "李201号1")
    assert [r.archive_code[:12] for r in found] == ["130123101201"]  # nothing renumbered
    assert services.find_village(s, "130123101201").name == "东村"
    assert services.find_village(s, "201").full_code == "130123100201"
    loans = [loan for loan in list_register(s, "2026-11", rules=county.rules) if loan.household_id == county.lent.id]
    assert [(loan.borrower_name, loan.state) for loan in loans] == [("王村医", "returned")]
    history = list_movements(s, county.moved.id)
    assert [m.kind for m in history] == ["shelve", "take_out", "put_back", "release", "shelve"]
    assert all(m.address for m in history if m.kind != "release")
    assert history[0].address == history[1].address != history[-1].address
    assert "移交给 诸福屯镇卫生院（YJ-2026-0001）" in history[3].reason
    place = find_places(s, [county.moved.id, county.closed.id, county.waiting.id])
    assert place[county.moved.id].state == "on_shelf" and place[county.closed.id].status.code == "closed"
    assert place[county.waiting.id].state == "on_shelf"
    resident = s.scalars(select(Resident).where(Resident.household_id == county.moved.id)).one()
    assert "resident.registered" in [e.kind for e in list_events(s, "resident", resident.archive_code)]
    assert {label.code for label in done.labels} >= {s.get(Shelf, p.shelf_id).code for p in s.scalars(
        select(FolderPosition).where(FolderPosition.household_id.in_([county.moved.id, county.waiting.id])))}

    # the sending site: none of it, but its handover list is still there to reprint; and it is read-only
    county.scope(county.second)
    assert s.scalars(select(Resident)).all() == [] and s.scalars(select(Village)).all() == []
    reprinted = find_handover(s, "YJ-2026-0001")
    assert len(reprinted.lines) == 7 and reprinted.to_party == "诸福屯镇卫生院"
    s.add(Borrower(key="li", kind="staff", name="李医生"))
    with pytest.raises(SiteClosed):
        s.flush()
    s.rollback()


def test_dry_run_changes_nothing_and_its_fingerprint_is_what_is_then_done(county: County) -> None:
    s = county.session
    before = count_rows(s)
    preview = carry_out(county, dry_run=True)
    s.flush()
    assert count_rows(s) == before
    assert preview.dry_run and preview.number is None and preview.folders == 7 and preview.event_id is None
    assert preview.after["target"]["households"] == preview.before["target"]["households"] + 8
    assert s.get(Site, county.second.id).status == "active"
    assert [d["key"] for d in preview.documents()] == ["handover", "picklist", "labels"]
    walked = [(row.location.place.seq, row.location.place.slot) for row in preview.picklist.rows]
    assert len(walked) == 7 and walked == sorted(walked)  # the old rooms' walking order
    done = carry_out(county, expected=preview.fingerprint)
    assert done.fingerprint == preview.fingerprint and not done.dry_run


def test_an_open_loan_refuses_the_transfer_naming_the_folder(county: County) -> None:
    s = county.session
    county.scope(county.second)
    doctor = s.scalars(select(Borrower)).one()
    check_out(s, code(county.moved), borrower=doctor, purpose="随访", rules=county.rules, actor=ACTOR,
              now=county.clock())
    county.unscoped()
    before = count_rows(s)
    with pytest.raises(Conflict) as refused:
        carry_out(county)
    message = str(refused.value)
    assert "借出未还" in message and county.moved.head_name in message and refused.value.field == "借阅"
    assert count_rows(s) == before
    assert s.get(Site, county.second.id).status == "active"


def test_a_site_with_no_villages_is_refused_naming_it(county: County) -> None:
    s = county.session
    county.unscoped()
    add_site(s, "XZ", name="新庄乡卫生院", county_code="130123", county_name="正定县", township_code="102",
             actor=ACTOR)
    with pytest.raises(InvalidValue) as refused:
        transfer_villages(s, "XZ", county.first.code, providers=[status_provider(county.rules)], actor=ACTOR,
                          now=county.clock(), dry_run=True)
    assert (refused.value.field, refused.value.value) == ("移交机构", "XZ")
    assert "新庄乡卫生院没有村(居)委会可移交" in str(refused.value)


def register_file(path: Path, *rows: tuple[str, str, str, str]) -> Path:
    """A register export: (archive code, name, village, 户号) rows, each its household's head."""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["档案编号", "姓名", "性别", "与户主关系", "户主姓名", "户号", "所属村(居)委会", "联系电话"])
        for archive_code, name, village, household in rows:
            writer.writerow([archive_code, name, "男", "户主", name, household, village, "13800000000"])
    return path


def test_some_villages_move_and_the_sending_site_keeps_working(county: County, tmp_path: Path) -> None:
    s = county.session
    done = carry_out(county, "201")
    assert [v.code for v in done.villages] == ["130123101201"] and not done.whole_site
    assert s.get(Site, county.second.id).status == "active"
    county.scope(county.second)
    assert {h.village.code for h in s.scalars(select(Household))} == {"202"}
    assert [v.ref for v in s.scalars(select(Village))] == ["202"]
    with pytest.raises(Conflict, match="诸福屯镇卫生院"):
        services.add_village(s, "201", "东村新区", actor=ACTOR)
    county.scope(county.first)
    refs = sorted(v.ref for v in s.scalars(select(Village)))
    assert refs == ["001", "130123101201", "201", "202"]
    assert s.scalar(select(Household).where(Household.id == county.lent.id)) is not None

    # the register export still carries the old township's codes: the receiving site imports them, the sending
    # site (and a village it kept) is told where they are kept now
    known = s.scalars(select(Resident).where(Resident.household_id == county.lent.id)).one()
    export = register_file(tmp_path / "export.csv", (known.archive_code, known.name, "东村", "20101"),
                           ("13012310120100099", "李新来", "130123101201", "N1"),
                           ("13012310020100099", "张新来", "东村", "N2"))
    received = import_file(s, export, actor=ACTOR, today=date(2026, 11, 25))
    assert received.ok and (received.added, received.changed) == (2, 1), received.problems
    assert s.scalar(select(Resident).where(Resident.archive_code == "13012310120100099")).village.ref \
        == "130123101201"
    county.scope(county.second)
    refused = import_file(s, register_file(tmp_path / "old.csv", ("13012310120100098", "李旧址", "东村", "O1"),
                                           ("13012310120200098", "李西村", "西村", "O2")),
                          actor=ACTOR, today=date(2026, 11, 25))
    assert [(p.row, "诸福屯镇卫生院" in p.reason) for p in refused.problems] == [(2, True)] and not refused.applied

    # labels and forms of that village, printed by the receiving site: its own township's names, the printer's unit
    county.scope(county.first)
    scope = resolve_label_scope(s, village="130123101201")
    assert scope.village == "130123101201"
    stock = label_stocks()["a4-3x8"]
    assert count_labels(s, "folder", stock, scope) == 5  # 4 transferred households and the one imported
    forms = print_forms(s, "cover", resolve_scope(s, village="130123101201"), tmp_path / "cover.pdf", kind="form",
                        today=date(2026, 11, 25))
    texts = [compact(text) for text in page_texts(tmp_path / "cover.pdf")]
    assert forms.residents == 4 and all("柏棠镇" in t and "诸福屯镇卫生院" in t for t in texts)


def test_when_the_receiving_rooms_have_no_room_after_its_villages_one_relayout_places_everything(
        county: County) -> None:
    s = county.session
    county.scope(county.first)
    shelves = list_shelves(s)
    west = services.find_village(s, "202")
    for household in s.scalars(select(Household).where(Household.village_id == west.id)):
        move_folder(s, household, shelves[-1].code, actor=ACTOR, now=county.clock())
    for shelf in shelves:
        shelf.village = west if shelf is shelves[-1] else None if shelf.village is west else shelf.village
    s.flush()
    county.unscoped()
    before = count_rows(s)
    done = carry_out(county)
    assert [m.folder for m in done.moves if m.source]  # the receiving site's own folders make room
    assert sum(p.placed for p in done.placements) == 7 and done.closed_area == 1
    county.scope(county.first)
    places = find_places(s, [h.id for h in s.scalars(select(Household))])
    assert {place.state for place in places.values()} == {"on_shelf", "unshelved"}  # 001's folder was never shelved
    assert count_rows(s)["folder_positions"] == before["folder_positions"] + 1
    assert len(done.labels) >= 3
