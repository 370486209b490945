"""Read side of the register: find residents by code, name, pinyin initials, ID number or phone."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import date

from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from archiveprint.errors import InvalidValue, NotFound
from archiveprint.pdf.barcodes import is_valid_check
from archiveprint.register.codes import FolderCode, format_code, looks_like_folder_code, parse_code, parse_folder_code
from archiveprint.register.idcard import upgrade_15
from archiveprint.register.models import Household, PopulationTag, Resident, Township, Village, resident_tags
from archiveprint.register.names import HEAD_RELATIONS, SEX_CODES, is_head
from archiveprint.register.populations import find_population
from archiveprint.register.text import clean, clean_code
from archiveprint.sites.models import Site

FIND_LIMIT = 50


@dataclass(frozen=True)
class Match:
    """One resident found, with the household folder it lives in."""

    archive_code: str
    name: str
    sex: str
    birth_date: date | None
    status: str
    household: int  # household id
    household_number: int
    household_head: str
    village: str  # 3-digit segment
    village_name: str
    id_number_masked: str
    resident_id: int = field(default=0, compare=False, repr=False)  # what an audit row names; not shown

    @property
    def code_display(self) -> str:
        return format_code(self.archive_code)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        del data["resident_id"]
        data["birth_date"] = self.birth_date.isoformat() if self.birth_date else None
        data["code_display"] = self.code_display
        return data

    def text_lines(self) -> list[str]:
        closed = "  [已结案]" if self.status == "closed" else ""
        return [f"{self.code_display}  {self.name}  {SEX_CODES.get(self.sex, '')}  {self.birth_date or ''}  "
                f"{self.village_name} 第{self.household_number}户（户主 {self.household_head}）{closed}"]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def classify_query(query: str) -> tuple[str, str]:
    """What the clerk typed or scanned: ('folder'|'code'|'short_code'|'id_number'|'phone'|'initials'|'name'|'empty',
    key). A form page's 21-digit re-filing barcode counts as its archive code.

    Control characters (NUL, ESC, DEL …) are no part of any name or code: they become spaces before anything else,
    so `?q=%00` is an empty query, not a pattern SQLite cuts short at the NUL and matches everyone with (#11.14)."""
    text = clean(_CONTROL.sub(" ", query))
    compact = clean_code(text).upper()
    if not text:
        return "empty", ""
    if looks_like_folder_code(compact):
        return "folder", compact
    if re.fullmatch(r"\d{21}", compact) and is_valid_check(compact):
        return "code", compact[:17]  # the re-filing barcode of a form page: archive code + form + page + check
    if re.fullmatch(r"\d{17}", compact):
        return "code", compact
    if re.fullmatch(r"\d{17}[\dX]", compact):
        return "id_number", compact
    if re.fullmatch(r"\d{15}", compact):
        return "id_number", upgrade_15(compact)
    if re.fullmatch(r"\d{8}", compact) and not compact.startswith("1"):
        return "short_code", compact
    if re.fullmatch(r"\d{3}-?\d{5}", text):
        return "short_code", compact
    if re.fullmatch(r"1\d{10}|0\d{9,11}|\d{7,8}", compact):
        return "phone", compact
    if re.fullmatch(r"[A-Za-z]+", text):
        return "initials", text.lower()
    return "name", text.replace(" ", "")


def _base() -> Select[tuple[Resident]]:
    return select(Resident).options(selectinload(Resident.household), selectinload(Resident.village))


def find_residents(session: Session, query: str, *, limit: int = FIND_LIMIT,
                   include_closed: bool = True) -> list[Match]:
    """Everything a clerk might type into the search box, best matches first."""
    kind, key = classify_query(query)
    if kind == "empty":
        return []
    stmt = _base()
    if kind == "folder":
        household = find_household_by_folder(session, parse_folder_code(key))
        if household is None:
            return []
        stmt = stmt.where(Resident.household_id == household.id)
    elif kind == "code":
        stmt = stmt.where(Resident.archive_code == key)
    elif kind == "id_number":
        stmt = stmt.where(Resident.id_number == key)
    elif kind == "short_code":
        stmt = stmt.join(Village, Village.id == Resident.village_id).where(
            Village.code == key[:3], Resident.serial == int(key[3:]))
    elif kind == "phone":
        stmt = stmt.where(Resident.phone == key)
    elif kind == "initials":
        # In the index's order, exact initials first ("zy" before "zya…"), so the scan stops after `limit` in
        # scope. Ordered by archive code instead, PostgreSQL walked the archive codes from the county's first one,
        # filtering, until it reached the site's: 190 ms for "zy" in the 20th of 20 sites (bench/county_bench.py).
        if session.get_bind().dialect.name == "postgresql":  # LIKE on the text_pattern_ops index, walked in order
            stmt = stmt.where(Resident.name_initials.like(f"{key}%")).order_by(
                literal_column("residents.name_initials USING ~<~"))
        else:  # SQLite's LIKE ignores case and so skips indexes: a range on the index, like locate's
            stmt = stmt.where(Resident.name_initials >= key, Resident.name_initials < key + "\U0010ffff").order_by(
                Resident.name_initials)
    else:
        exact = stmt.where(Resident.name == key)
        rows = list(session.scalars(exact.order_by(Resident.archive_code).limit(limit)))
        if len(rows) < limit:
            seen = {r.id for r in rows}
            like = stmt.where(Resident.name.like(f"%{_escape(key)}%", escape="\\"), Resident.name != key)
            rows += [r for r in session.scalars(like.order_by(func.length(Resident.name), Resident.archive_code)
                                                 .limit(limit - len(rows))) if r.id not in seen]
        return [_match(r) for r in rows if include_closed or r.status == "active"]
    if not include_closed:
        stmt = stmt.where(Resident.status == "active")
    rows = session.scalars(stmt.order_by(Resident.archive_code).limit(limit))
    return [_match(r) for r in rows]


def find_flagged(session: Session, *, limit: int = FIND_LIMIT) -> list[Match]:
    """Residents with a 待核实 flag an import left (the search page's 待核实 filter), by archive code."""
    stmt = _base().where(Resident.review_flags.is_not(None)).order_by(Resident.archive_code).limit(limit)
    return [_match(r) for r in session.scalars(stmt)]


def count_flagged(session: Session) -> int:
    return session.scalar(select(func.count(Resident.id)).where(Resident.review_flags.is_not(None))) or 0


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _match(resident: Resident) -> Match:
    household = resident.household
    return Match(
        archive_code=resident.archive_code,
        name=resident.name,
        sex=resident.sex,
        birth_date=resident.birth_date,
        status=resident.status,
        household=household.id,
        household_number=household.number,
        household_head=household.head_name,
        village=resident.village.code,
        village_name=resident.village.name,
        id_number_masked=(resident.id_number[:4] + "*" * 10 + resident.id_number[14:]) if resident.id_number
        else "",
        resident_id=resident.id,
    )


def get_household(session: Session, household_id: int) -> Household | None:
    return session.scalar(
        select(Household).where(Household.id == household_id)
        .options(selectinload(Household.members).selectinload(Resident.tags), selectinload(Household.village))
    )


def ordered_members(household: Household) -> list[Resident]:
    """Members in folder order: head of household first, then by archive code."""
    return sorted(household.members, key=lambda r: (not is_head(r.relation_to_head), r.archive_code))


def list_villages(session: Session) -> list[tuple[Village, int, int]]:
    """Villages with their household and resident counts."""
    households = (select(Household.village_id, func.count(Household.id).label("n"))
                  .group_by(Household.village_id).subquery())
    residents = (select(Resident.village_id, func.count(Resident.id).label("n"))
                 .group_by(Resident.village_id).subquery())
    stmt = (select(Village, func.coalesce(households.c.n, 0), func.coalesce(residents.c.n, 0))
            .outerjoin(households, households.c.village_id == Village.id)
            .outerjoin(residents, residents.c.village_id == Village.id)
            .order_by(Village.code))
    return [(v, h, r) for v, h, r in session.execute(stmt)]


def list_tags(session: Session) -> list[str]:
    """The population tags in use, as the print centre offers them (人群分类)."""
    return list(session.scalars(select(PopulationTag.name).order_by(PopulationTag.id)))


def _print_order():  # type: ignore[no-untyped-def]
    head_first = case((Resident.relation_to_head.in_(HEAD_RELATIONS), 0), else_=1)
    # A site that took over another township's villages files them apart from its own (same codes, other township).
    return (Village.township_id, Village.code, Household.number, head_first, Resident.archive_code)


def village_clause(ref: str) -> ColumnElement[bool]:
    """The test for the village a `Village.ref` names: 3 digits, that code in the township of the village's own
    site; 12 digits, that village of whatever township (one a site took over from another site keeps its codes)."""
    if len(ref) == 12:
        return and_(Village.code == ref[9:], Village.township_id.in_(
            select(Township.id).where(Township.county_code == ref[:6], Township.code == ref[6:9])))
    home = select(Site.township_id).where(Site.id == Village.site_id).scalar_subquery()
    return and_(Village.code == ref, or_(Village.site_id.is_(None), Village.township_id == home))


def select_for_print(*, codes: tuple[str, ...] = (), household_id: int | None = None, village: str | None = None,
                     tag: str | None = None, population: str | None = None, on: date | None = None,
                     include_closed: bool = False) -> Select[tuple[Resident]]:
    """Residents of a print scope in filing order: village → household → head first → code.

    `population` (a populations.yaml id) keeps its members on the day `on` (ages are counted on that day)."""
    stmt = (select(Resident)
            .join(Household, Household.id == Resident.household_id)
            .join(Village, Village.id == Resident.village_id)
            .options(joinedload(Resident.household), joinedload(Resident.village)))
    if codes:
        stmt = stmt.where(Resident.archive_code.in_(codes))
    if household_id is not None:
        stmt = stmt.where(Resident.household_id == household_id)
    if village is not None:
        stmt = stmt.where(village_clause(village))
    if tag is not None:
        stmt = stmt.where(Resident.id.in_(
            select(resident_tags.c.resident_id).join(PopulationTag, PopulationTag.id == resident_tags.c.tag_id)
            .where(PopulationTag.name == tag)))
    if population is not None:
        if on is None:
            raise ValueError("a population is counted on a day: pass `on`")
        stmt = stmt.where(find_population(population).clause(on))
    if not include_closed and not codes:
        stmt = stmt.where(Resident.status == "active")
    return stmt.order_by(*_print_order())


def find_household_by_folder(session: Session, code: FolderCode) -> Household | None:
    """The household a folder code names, if it is this archive's (prefix = one of our villages), with its village
    and township (what its folder code and label are made of) read in the same statement."""
    stmt = (select(Household).join(Village, Village.id == Household.village_id)
            .join(Township, Township.id == Village.township_id)
            .where(Township.county_code == code.village_prefix[:6], Township.code == code.village_prefix[6:9],
                   Village.code == code.village_prefix[9:], Household.number == code.household_number)
            .options(contains_eager(Household.village).contains_eager(Village.township)))
    return session.scalar(stmt)


@dataclass(frozen=True)
class ScanResult:
    """What a scanned barcode opens: always a household folder, and the resident when a personal code was read."""

    household: Household
    resident: Resident | None
    kind: str  # folder | resident


def resolve_scan(session: Session, scanned: str) -> ScanResult:
    """Check a scanned code against the records (decoders misread: a valid-looking code may name nothing)."""
    kind, key = classify_query(scanned)
    if kind == "folder":
        code = parse_folder_code(key)
        household = find_household_by_folder(session, code)
        if household is None:
            raise NotFound("没有这个档案袋（不是本院的档案袋，或该户不存在）", field="档案袋编号", value=code.display)
        return ScanResult(household=household, resident=None, kind="folder")
    if kind == "code":
        resident = session.scalar(_base().where(Resident.archive_code == parse_code(key).value))
        if resident is None:
            raise NotFound("没有这份档案（编号有效但不在本院登记中）", field="档案编号", value=format_code(key))
        return ScanResult(household=resident.household, resident=resident, kind="resident")
    if re.fullmatch(r"\d{21}", clean_code(scanned)):
        raise InvalidValue("表单条码校验位错误（可能扫描有误，请重扫）", field="条码", value=scanned)
    raise InvalidValue("无法识别的条码：应为档案袋编号（F 开头）或17位档案编号", field="条码", value=scanned)
