"""Site lists with their sizes, for the county's overview and `site list`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.errors import InvalidValue, NotFound
from archiveprint.register.models import Household, Resident, Township, Village
from archiveprint.sites.models import Site


@dataclass(frozen=True)
class SiteSummary:
    """One site and how much it holds (counts only: nothing about a person)."""

    id: int
    code: str
    name: str
    county_code: str
    county_name: str
    township_code: str
    township_name: str
    status: str
    merged_into: str | None
    villages: int
    households: int
    residents: int
    users: int

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "county_code": self.county_code,
                "county_name": self.county_name, "township_code": self.township_code,
                "township_name": self.township_name, "status": self.status, "merged_into": self.merged_into,
                "villages": self.villages, "households": self.households, "residents": self.residents,
                "users": self.users}

    def text_lines(self) -> list[str]:
        into = f"，并入 {self.merged_into}" if self.merged_into else ""
        closed = f"（已撤并{into}）" if self.status == "closed" else ""
        return [f"{self.code}\t{self.name}{closed}\t{self.county_name} {self.county_code}-{self.township_code} "
                f"{self.township_name}\t村(居) {self.villages}  户 {self.households}  人 {self.residents}  "
                f"用户 {self.users}"]


def _counts(session: Session, stmt: Any) -> dict[int, int]:
    return {site_id: count for site_id, count in session.execute(stmt) if site_id is not None}


def site_summaries(session: Session) -> list[SiteSummary]:
    """Every site with its counts. The counts are read from the tables, not the ORM entities, so they are the
    whole installation's whatever the session's scope: numbers of villages, households and people per site."""
    villages_t, households_t, residents_t, users_t = (Village.__table__, Household.__table__, Resident.__table__,
                                                      User.__table__)
    villages = _counts(session, select(villages_t.c.site_id, func.count()).group_by(villages_t.c.site_id))
    households = _counts(session, select(villages_t.c.site_id, func.count()).select_from(
        households_t.join(villages_t, households_t.c.village_id == villages_t.c.id)).group_by(villages_t.c.site_id))
    residents = _counts(session, select(villages_t.c.site_id, func.count()).select_from(
        residents_t.join(households_t, residents_t.c.household_id == households_t.c.id)
        .join(villages_t, households_t.c.village_id == villages_t.c.id))
        .where(residents_t.c.closed_on.is_(None)).group_by(villages_t.c.site_id))
    users = _counts(session, select(users_t.c.site_id, func.count()).group_by(users_t.c.site_id))
    sites = session.execute(select(Site, Township.__table__.c.code, Township.__table__.c.name)
                            .join(Township.__table__, Township.__table__.c.id == Site.township_id, isouter=True)
                            .order_by(Site.id)).all()
    names = {site.id: site.code for site, _, _ in sites}
    return [SiteSummary(id=site.id, code=site.code, name=site.name, county_code=site.county_code,
                        county_name=site.county_name, township_code=code or "", township_name=name or "",
                        status=site.status, merged_into=names.get(site.merged_into_id or 0),
                        villages=villages.get(site.id, 0), households=households.get(site.id, 0),
                        residents=residents.get(site.id, 0), users=users.get(site.id, 0))
            for site, code, name in sites]


def choose_site(session: Session, code: str | None) -> int | None:
    """The site a command works in: the one `code` names, the only one, or None before the first; with several
    and no code given it refuses to guess."""
    sites = session.execute(select(Site.id, Site.code, Site.name).order_by(Site.id)).all()
    listed = "、".join(f"{site.code}（{site.name}）" for site in sites)
    if code:
        found = next((site.id for site in sites if site.code == code.strip()), None)
        if found is None:
            raise NotFound("没有机构代码为 {code} 的机构（现有：{sites}）",
                           params={"code": code, "sites": listed or "无"}, field="机构", value=code)
        return found
    if len(sites) <= 1:
        return sites[0].id if sites else None
    raise SiteNotChosen("本系统有 {count} 个机构，请指定在哪个机构操作：{sites}",
                        params={"count": len(sites), "sites": listed}, field="机构",
                        hint=f"例如：archiveprint --site {sites[0].code} …（或设置 ARCHIVEPRINT_SITE）")


class SiteNotChosen(InvalidValue):
    """Several sites, and a command that did not say which."""
