"""Site use cases: add a site (the first one from `township set`), and give the first site the rows made before it."""

from __future__ import annotations

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.roles import COUNTY_ROLES
from archiveprint.db import Base
from archiveprint.errors import Conflict, InvalidValue, NotFound
from archiveprint.eventlog import record_event
from archiveprint.register.models import Township
from archiveprint.sites.models import SINCE_FIRST_SITE, Site

UNIT_SUFFIXES = ("中心卫生院", "社区卫生服务中心", "卫生院")


def township_name_of(site_name: str) -> str:
    """柏棠镇卫生院 → 柏棠镇: the township a site's name begins with (the whole name if no known suffix)."""
    for suffix in UNIT_SUFFIXES:
        if site_name.endswith(suffix) and len(site_name) > len(suffix):
            return site_name[: -len(suffix)]
    return site_name


def check_codes(county_code: str, township_code: str) -> None:
    if not (county_code.isdigit() and len(county_code) == 6):
        raise InvalidValue("县级行政区划代码应为6位数字", field="县代码", value=county_code)
    if not (township_code.isdigit() and len(township_code) == 3) or township_code == "000":
        raise InvalidValue("乡镇代码应为3位数字（001–999）", field="乡镇代码", value=township_code)


def add_site(session: Session, code: str, *, name: str, county_code: str, county_name: str, township_code: str,
             township_name: str = "", actor: str) -> Site:
    """A new site with its home township. More than one site needs PostgreSQL: on SQLite the second is refused."""
    code = code.strip()
    name = name.strip()
    if not code or len(code) > 32 or any(ch.isspace() for ch in code):
        raise InvalidValue("机构代码应为1–32个字符，不含空格", field="机构代码", value=code)
    if not name:
        raise InvalidValue("机构名称不能为空", field="机构名称")
    check_codes(county_code, township_code)
    existing = session.scalar(select(func.count()).select_from(Site)) or 0
    if existing and session.get_bind().dialect.name == "sqlite":
        raise Conflict("一个系统管理多个机构需要 PostgreSQL 数据库；SQLite 只支持一个机构", field="数据库",
                       value="SQLite", hint="把 DATABASE_URL 设为 PostgreSQL 数据库（见 docs/deploy.md）")
    if session.scalar(select(Site).where(Site.code == code)) is not None:
        raise Conflict("机构代码 {code} 已被使用", params={"code": code}, field="机构代码", value=code)
    township = session.scalar(select(Township).where(Township.county_code == county_code,
                                                     Township.code == township_code))
    if township is not None:
        owner = session.scalar(select(Site).where(Site.township_id == township.id))
        if owner is not None:
            raise Conflict("乡镇 {county_code}-{township_code} 已属于机构“{name}”（{code}）",
                           params={"county_code": county_code, "township_code": township_code, "name": owner.name,
                                   "code": owner.code}, field="乡镇代码", value=township_code)
    else:
        township = Township(county_code=county_code, county_name=county_name, code=township_code,
                            name=township_name.strip() or township_name_of(name), unit_name=name)
        session.add(township)
        session.flush()
    site = Site(code=code, name=name, county_code=county_code, county_name=county_name, township_id=township.id,
                status="active", created_by=actor, rows_before=rows_so_far(session))
    session.add(site)
    session.flush()
    first = session.scalar(select(Site).order_by(Site.id).limit(1))
    assert first is not None
    give_first_site_its_rows(session, first)  # and, once there are several, nothing is left without a site
    added = record_event(session, "site.added", "site", site.id, actor=actor, code=code, name=name,
                         county_code=county_code, township_code=township_code)
    added.site_id = site.id  # the new site's own history: not a row "from before sites" that the first site reads
    return site


def rows_so_far(session: Session) -> dict[str, int]:
    """The last id of each SINCE_FIRST_SITE table: on the second site, where the first site's NULL-site rows end
    (a row written meanwhile by a transaction not yet committed falls after it: the installation's, not shown to
    the first site — the safe side)."""
    tables = Base.metadata.tables
    return {name: int(session.scalar(select(func.coalesce(func.max(tables[name].c.id), 0))) or 0)
            for name in SINCE_FIRST_SITE}


def give_first_site_its_rows(session: Session, site: Site) -> None:
    """The rows made before the first site (the administrator, printer profiles …) become its own; the county
    roles' users belong to no site, whenever they were made."""
    for table in Base.metadata.sorted_tables:
        if "site_id" in table.c and table.name not in SINCE_FIRST_SITE:
            unowned = table.c.site_id.is_(None)
            if table.name == User.__tablename__:
                unowned = and_(unowned, table.c.role.not_in(sorted(COUNTY_ROLES)))
            session.execute(update(table).where(unowned).values(site_id=site.id))


def find_site(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code.strip()))
    if site is None:
        raise NotFound("没有机构代码为 {code} 的机构", params={"code": code}, field="机构", value=code)
    return site
