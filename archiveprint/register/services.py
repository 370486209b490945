"""Register use cases: configure the township, add villages, allocate codes, register, move and close residents."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiveprint.errors import N_, Conflict, InvalidValue, Message, NotFound, TownshipNotSet, joined
from archiveprint.eventlog import diff, record_event
from archiveprint.register.codes import SERIAL_MAX, ArchiveCode, parse_code
from archiveprint.register.models import Household, PopulationTag, Resident, Township, Village
from archiveprint.register.names import DEFAULT_TAGS, is_head, pinyin_initials
from archiveprint.register.servicedates import SERVICE_DATES
from archiveprint.sites.models import Site, working_site
from archiveprint.sites.services import add_site, check_codes

CLOSE_REASONS = {"death": N_("死亡"), "moved": N_("迁出"), "lost": N_("失访"), "other": N_("其他")}
TRACKED_FIELDS = ("name", "sex", "birth_date", "id_number", "phone", "address", "registered_on",
                  "relation_to_head", *SERVICE_DATES)


def get_township(session: Session) -> Township:
    """The working site's own township (whose codes its new villages get); TownshipNotSet before the first site."""
    township = find_township(session)
    if township is None:
        raise TownshipNotSet
    return township


def find_township(session: Session) -> Township | None:
    """The working site's township; a session kept to no site has the only site's, and none once there are several
    (the sign-in page or a county role that has not chosen: no site's name is shown as if it were theirs)."""
    site_id = working_site(session)
    if site_id is not None:
        return session.scalar(select(Township).join(Site, Site.township_id == Township.id).where(Site.id == site_id))
    found = session.scalars(select(Township).join(Site, Site.township_id == Township.id).order_by(Site.id)
                            .limit(2)).all()
    return found[0] if len(found) == 1 else None


def configure_township(session: Session, county_code: str, county_name: str, code: str, name: str, *,
                       unit_name: str = "", actor: str) -> Township:
    """Set the archive's own township once — which makes the installation's first site (柏棠镇卫生院); later calls
    may rename it but never change its codes."""
    check_codes(county_code, code)
    existing = find_township(session)
    if existing is not None:
        if (existing.county_code, existing.code) != (county_code, code):
            raise Conflict("本档案室已设置为 {county_code}-{code} {name}，"
                           "不能改为另一个乡镇的代码",
                           params={"county_code": existing.county_code, "code": existing.code, "name": existing.name},
                           field="乡镇代码", value=f"{county_code}-{code}")
        before = {"county_name": existing.county_name, "name": existing.name, "unit_name": existing.unit_name}
        existing.county_name, existing.name = county_name, name
        existing.unit_name = unit_name or existing.unit_name
        after = {"county_name": existing.county_name, "name": existing.name, "unit_name": existing.unit_name}
        if before != after:
            site = session.scalar(select(Site).where(Site.township_id == existing.id))
            if site is not None:
                site.name, site.county_name = existing.unit_name, county_name
            record_event(session, "township.updated", "township", existing.id, actor=actor,
                         changes=diff(before, after))
        return existing
    site = add_site(session, county_code + code, name=unit_name or f"{name}卫生院", county_code=county_code,
                    county_name=county_name, township_code=code, township_name=name, actor=actor)
    township = session.get(Township, site.township_id)
    assert township is not None
    ensure_tags(session, DEFAULT_TAGS)
    record_event(session, "township.configured", "township", township.id, actor=actor,
                 county_code=county_code, code=code, name=name)
    return township


def add_village(session: Session, code: str, name: str, *, actor: str) -> Village:
    township = get_township(session)
    if not (code.isdigit() and len(code) == 3) or code == "000":
        raise InvalidValue("村(居)委会代码应为3位数字（001–999）", field="村代码", value=code)
    name = name.strip()
    if not name:
        raise InvalidValue("村(居)委会名称不能为空", field="村名", value=code)
    for village in township.villages:
        if village.code == code:
            raise Conflict("村(居)委会代码 {code} 已登记为“{name}”",
                           params={"code": code, "name": village.name}, field="村代码", value=code)
        if village.name == name:
            raise Conflict("村(居)委会“{name}”已登记，代码 {code}",
                           params={"name": name, "code": village.code}, field="村名", value=name)
    _not_kept_elsewhere(session, township, code, name)
    village = Village(township=township, code=code, name=name, last_serial=0, last_household_no=0)
    session.add(village)
    session.flush()
    record_event(session, "village.added", "village", village.id, actor=actor, code=code, name=name)
    return village


def _not_kept_elsewhere(session: Session, township: Township, code: str, name: str) -> None:
    """A village of this township that was transferred to another site (机构撤并) is not in scope here, but its
    code and name stay taken: refuse them by name of the site that keeps it (read from the tables)."""
    villages, sites = Village.__table__, Site.__table__
    row = session.execute(select(villages.c.code, villages.c.name, sites.c.name)
                          .join(sites, sites.c.id == villages.c.site_id, isouter=True)
                          .where(villages.c.township_id == township.id,
                                 (villages.c.code == code) | (villages.c.name == name))).first()
    if row is not None:
        raise Conflict("村(居)委会 {code} {name} 已登记，现由机构“{site}”保管",
                       params={"code": row[0], "name": row[1], "site": row[2] or ""}, field="村代码", value=code)


def check_new_villages(session: Session, entries: list[tuple[str, str]]) -> dict[int, str]:
    """What is wrong with each (code, name) the clerk is about to register, by position; {} when all is well.

    A pair registered exactly so already is fine (a second click): add_villages skips it.
    """
    township = get_township(session)
    by_code = {village.code: village.name for village in township.villages}
    by_name = {village.name: village.code for village in township.villages}
    errors: dict[int, str] = {}
    seen_codes: dict[str, int] = {}
    seen_names: dict[str, int] = {}
    for position, (code, name) in enumerate(entries):
        if not code:
            errors[position] = (Message("请填写“{name}”的村代码（3位数字）", {"name": name}) if name
                                else N_("请填写村代码（3位数字）"))
        elif not (code.isdigit() and len(code) == 3) or code == "000":
            errors[position] = Message("村代码应为3位数字（001–999），“{code}”不是", {"code": code})
        elif not name:
            errors[position] = Message("请填写村代码 {code} 的村名", {"code": code})
        elif by_code.get(code) == name:
            continue
        elif code in by_code:
            errors[position] = Message("代码 {code} 已登记为“{name}”，请换一个代码",
                                       {"code": code, "name": by_code[code]})
        elif name in by_name:
            errors[position] = Message("“{name}”已登记，代码 {code}", {"name": name, "code": by_name[name]})
        elif code in seen_codes:
            errors[position] = Message("代码 {code} 与上面第{number}个村重复",
                                       {"code": code, "number": seen_codes[code] + 1})
        elif name in seen_names:
            errors[position] = Message("村名“{name}”与上面第{number}个村重复",
                                       {"name": name, "number": seen_names[name] + 1})
        seen_codes.setdefault(code, position)
        seen_names.setdefault(name, position)
    return errors


def add_villages(session: Session, entries: list[tuple[str, str]], *, actor: str) -> list[Village]:
    """Register several villages at once (the import page's 登记这 N 个村); pairs already registered are skipped."""
    errors = check_new_villages(session, entries)
    if errors:
        position, message = min(errors.items())
        raise InvalidValue(message, field="村(居)委会", value=entries[position][0])
    township = get_township(session)
    registered = {(village.code, village.name) for village in township.villages}
    return [add_village(session, code, name, actor=actor) for code, name in entries
            if (code, name) not in registered]


def find_village(session: Session, key: str) -> Village:
    """A village by its 3-digit segment or its name (in the site's own township), or by its 12-digit code — which
    also names a village the site took over from another township's site (机构撤并: its codes keep that township).
    A name not found at home is looked up among those villages, and must name one."""
    township = get_township(session)
    key = key.strip()
    query = select(Village).where(Village.township_id == township.id)
    if key.isdigit() and len(key) == 12:
        village = session.scalar(select(Village).join(Township, Township.id == Village.township_id)
                                 .where(Township.county_code == key[:6], Township.code == key[6:9],
                                        Village.code == key[9:]))
    elif key.isdigit():
        village = session.scalar(query.where(Village.code == key))
    else:
        village = session.scalar(query.where(Village.name == key))
        if village is None:
            held = session.scalars(select(Village).where(Village.name == key, Village.township_id != township.id)
                                   .limit(2)).all()
            if len(held) > 1:
                raise InvalidValue("有两个村(居)委会都叫“{name}”，请用12位村代码指明", params={"name": key},
                                   field="村(居)委会", value=key)
            village = held[0] if held else None
    if village is None:
        raise NotFound("没有这个村(居)委会", field="村(居)委会", value=key)
    return village


def ensure_tags(session: Session, names: list[str] | tuple[str, ...]) -> list[PopulationTag]:
    """Tags by name, creating unknown ones (the list of groups is extendable)."""
    if not names:
        return []
    found = {tag.name: tag for tag in session.scalars(select(PopulationTag).where(PopulationTag.name.in_(names)))}
    for name in names:
        if name not in found:
            tag = PopulationTag(name=name)
            session.add(tag)
            found[name] = tag
    session.flush()
    return [found[name] for name in names]


def allocate_serial(session: Session, village: Village) -> ArchiveCode:
    """Hand out the next archive code of a village; one UPDATE … RETURNING, so racing clerks never collide."""
    serial = session.execute(
        update(Village)
        .where(Village.id == village.id)
        .values(last_serial=Village.last_serial + 1)
        .returning(Village.last_serial),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    if serial > SERIAL_MAX:
        raise Conflict("村(居)委会 {code} 的档案顺序号已用完（最大 {serial_max}）",
                       params={"code": village.code, "serial_max": SERIAL_MAX}, value=village.code)
    township = village.township
    return ArchiveCode(township.county_code, township.code, village.code, serial)


def reserve_serial(session: Session, village: Village, serial: int) -> None:
    """After an imported code, make sure the counter never hands that serial out again."""
    session.execute(
        update(Village)
        .where(Village.id == village.id, Village.last_serial < serial)
        .values(last_serial=serial),
        execution_options={"synchronize_session": False},
    )


def allocate_household_no(session: Session, village: Village) -> int:
    return session.execute(
        update(Village)
        .where(Village.id == village.id)
        .values(last_household_no=Village.last_household_no + 1)
        .returning(Village.last_household_no),
        execution_options={"synchronize_session": False},
    ).scalar_one()


def allocate_household_numbers(session: Session, village: Village, count: int) -> range:
    """Reserve `count` consecutive household numbers in one UPDATE (bulk imports create many households)."""
    last = session.execute(
        update(Village)
        .where(Village.id == village.id)
        .values(last_household_no=Village.last_household_no + count)
        .returning(Village.last_household_no),
        execution_options={"synchronize_session": False},
    ).scalar_one()
    return range(last - count + 1, last + 1)


def create_household(session: Session, village: Village, *, head_name: str, address: str = "",
                     external_no: str | None = None, actor: str, now: datetime | None = None) -> Household:
    number = allocate_household_no(session, village)
    household = Household(
        village_id=village.id, number=number, external_no=external_no or None,
        match_key=household_key(external_no, head_name, address), head_name=head_name, address=address,
    )
    session.add(household)
    session.flush()
    record_event(session, "household.created", "household", household.id, actor=actor, now=now,
                 village=village.code, number=number, head_name=head_name, external_no=external_no)
    return household


def household_key(external_no: str | None, head_name: str, address: str) -> str:
    """Imports recognise a household by its 户号, or by head of household + address when there is none."""
    if external_no:
        return f"no:{external_no}"
    return f"head:{head_name}|{address}"[:200]


# An ID number is unique in the whole installation (every site's register): the message says it is taken and
# nothing of whose — the holder may be another site's resident.
ID_NUMBER_TAKEN = N_("身份证号已属于另一份档案")


def id_number_taken(session: Session, id_number: str) -> bool:
    """Whether any resident of the installation holds `id_number` (the table is read, not the scoped entity)."""
    residents = Resident.__table__
    return session.scalar(select(residents.c.id).where(residents.c.id_number == id_number)) is not None


def register_resident(session: Session, household: Household, *, name: str, sex: str,
                      birth_date: date | None = None, id_number: str | None = None, phone: str = "",
                      address: str = "", relation_to_head: str = "", registered_on: date | None = None,
                      tags: list[str] | tuple[str, ...] = (), code: ArchiveCode | None = None,
                      dates: dict[str, date | None] | None = None, actor: str,
                      now: datetime | None = None) -> Resident:
    """Create a resident record in a household, allocating the next code of its village unless one is given.
    `dates`: the service schedules' dates known already (servicedates.SERVICE_DATES: 预产期 …)."""
    village = household.village
    if code is None:
        code = allocate_serial(session, village)
    else:
        check_code_belongs(session, code, village)
        reserve_serial(session, village, code.serial)
    if id_number and id_number_taken(session, id_number):
        raise Conflict(ID_NUMBER_TAKEN, field="身份证号", value=id_number)
    unknown = set(dates or {}) - set(SERVICE_DATES)
    if unknown:
        raise InvalidValue("不能修改字段：{fields}", params={"fields": ", ".join(sorted(unknown))})
    tag_rows = ensure_tags(session, list(tags))
    try:
        with session.begin_nested():
            resident = Resident(
                archive_code=code.value, village_id=village.id, serial=code.serial, household_id=household.id,
                relation_to_head=relation_to_head, name=name, name_initials=pinyin_initials(name), sex=sex,
                birth_date=birth_date, id_number=id_number or None, phone=phone,
                address=address or household.address, registered_on=registered_on, status="active",
                tags=tag_rows, **(dates or {}),
            )
            session.add(resident)
    except IntegrityError:
        # Lost a race with another clerk: the database's unique constraints decide.
        raise Conflict("档案编号或身份证号已被另一份档案使用", field="档案编号", value=code.value) from None
    if is_head(relation_to_head) and household.head_name != name:
        household.head_name = name
    record_event(session, "resident.registered", "resident", code.value, actor=actor, now=now,
                 household=household.id, name=name)
    return resident


def check_code_belongs(session: Session, code: ArchiveCode, village: Village | None = None) -> Village:
    """A code's county and township must be this archive's; its village must be a known one."""
    township = get_township(session)
    if (code.county, code.township) != (township.county_code, township.code):
        raise InvalidValue("档案编号不属于本乡镇（应以 {county_code}{code} 开头）",
                           params={"county_code": township.county_code, "code": township.code},
                           field="档案编号", value=code.value)
    if village is None:
        village = session.scalar(select(Village).where(Village.township_id == township.id,
                                                       Village.code == code.village))
        if village is None:
            raise InvalidValue("档案编号中的村(居)委会代码 {village} 尚未登记",
                               params={"village": code.village}, field="档案编号",
                               value=code.value)
    elif village.code != code.village:
        raise InvalidValue("档案编号中的村代码 {village} 与所属村“{name}”（{code}）不一致",
                           params={"village": code.village, "name": village.name, "code": village.code},
                           field="档案编号", value=code.value)
    return village


def get_resident(session: Session, code: str) -> Resident:
    resident = session.scalar(select(Resident).where(Resident.archive_code == parse_code(code).value))
    if resident is None:
        raise NotFound("没有这个档案编号", field="档案编号", value=code)
    return resident


def update_resident(session: Session, resident: Resident, changes: dict[str, object], *, actor: str,
                    now: datetime | None = None) -> dict[str, list[object]]:
    """Apply field changes and log them with old and new values; returns the diff."""
    unknown = set(changes) - set(TRACKED_FIELDS)
    if unknown:
        raise InvalidValue("不能修改字段：{fields}", params={"fields": ", ".join(sorted(unknown))})
    before = {key: getattr(resident, key) for key in changes}
    for key, value in changes.items():
        setattr(resident, key, value)
    if "name" in changes:
        resident.name_initials = pinyin_initials(resident.name)
    changed = diff(before, changes)
    if changed:
        record_event(session, "resident.updated", "resident", resident.archive_code, actor=actor, now=now,
                     changes=changed)
    return changed


def set_tags(session: Session, resident: Resident, names: list[str], *, actor: str,
             now: datetime | None = None) -> bool:
    before = resident.tag_names
    if sorted(before) == sorted(names):
        return False
    resident.tags = ensure_tags(session, names)
    record_event(session, "resident.tags_changed", "resident", resident.archive_code, actor=actor, now=now,
                 changes={"tags": [before, names]})
    return True


def move_resident(session: Session, resident: Resident, household: Household, *, relation_to_head: str = "",
                  actor: str, now: datetime | None = None) -> None:
    """Move a resident to another household (one folder to another); the old folder may need relabelling."""
    if household.id == resident.household_id:
        return
    # The archive code keeps its village segment for life, even when the new household is in another village.
    old = resident.household_id
    resident.household_id = household.id
    resident.household = household
    resident.relation_to_head = relation_to_head
    record_event(session, "resident.moved", "resident", resident.archive_code, actor=actor, now=now,
                 from_household=old, to_household=household.id, relation_to_head=relation_to_head)


def close_resident(session: Session, resident: Resident, reason: str, on: date, *, note: str = "",
                   actor: str, now: datetime | None = None) -> None:
    """结案: death, moving away or loss to follow-up. The record stays; only its status changes."""
    if reason not in CLOSE_REASONS:
        raise InvalidValue("结案原因应为：{reasons}",
                           params={"reasons": joined(Message("{code}（{label}）", {"code": code, "label": label})
                                                     for code, label in CLOSE_REASONS.items())},
                           field="结案原因", value=reason)
    if resident.status == "closed":
        raise Conflict("该档案已结案", field="档案编号", value=resident.archive_code)
    resident.status, resident.closed_on, resident.closed_reason, resident.closed_note = "closed", on, reason, note
    record_event(session, "resident.closed", "resident", resident.archive_code, actor=actor, now=now,
                 reason=reason, on=on, note=note)


def reopen_resident(session: Session, resident: Resident, *, why: str, actor: str,
                    now: datetime | None = None) -> None:
    if resident.status != "closed":
        raise Conflict("该档案未结案", field="档案编号", value=resident.archive_code)
    if not why.strip():
        raise InvalidValue("恢复结案档案必须填写原因", field="原因")
    before = {"reason": resident.closed_reason, "on": resident.closed_on}
    resident.status, resident.closed_on, resident.closed_reason, resident.closed_note = "active", None, None, ""
    record_event(session, "resident.reopened", "resident", resident.archive_code, actor=actor, now=now,
                 why=why, before=before)


def count_residents(session: Session) -> int:
    return session.scalar(select(func.count(Resident.id))) or 0


def flag_for_review(session: Session, resident: Resident, flags: list[dict[str, str]], *, actor: str,
                    now: datetime | None = None) -> list[dict[str, str]]:
    """Add 待核实 flags (column, value, reason) an import found; ones the resident already has are not repeated.

    Returns the flags added (logged as one resident.flagged event).
    """
    current = list(resident.review_flags or [])
    added = [flag for flag in flags if flag not in current]
    if not added:
        return []
    resident.review_flags = current + added
    record_event(session, "resident.flagged", "resident", resident.archive_code, actor=actor, now=now,
                 review=[f"{flag['column']}：{flag['reason']}（{flag['value']}）" for flag in added])
    return added


def clear_review_flag(session: Session, resident: Resident, position: int, *, reason: str, actor: str,
                      now: datetime | None = None) -> dict[str, str]:
    """A clerk has checked one 待核实 value: remove its flag. `reason` must match the flag at `position`, so a
    page that was stale (the flag already cleared by someone else) cannot clear a different one."""
    flags = list(resident.review_flags or [])
    if not 0 <= position < len(flags) or flags[position].get("reason") != reason:
        raise Conflict("这条待核实已被处理，请刷新页面", field="待核实", value=reason)
    flag = flags.pop(position)
    resident.review_flags = flags or None
    record_event(session, "resident.review_cleared", "resident", resident.archive_code, actor=actor, now=now,
                 review=f"{flag['column']}：{flag['reason']}（{flag['value']}）")
    return flag
