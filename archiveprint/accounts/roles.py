"""Roles and what each may do (data, so a site can read it at a glance)."""

from __future__ import annotations

ROLES: dict[str, str] = {
    "admin": "管理员",
    "clerk": "档案管理员",
    "doctor": "医生",
    "village_doctor": "村医",
    "viewer": "只读/督导",
    # County roles (one installation for a county): not of one site; they work in a site they choose, and every
    # read of a site's people is audited with that site named.
    "county_admin": "县级管理员",
    "county_supervisor": "县级督导",
    "county_print": "县级打印",
}
COUNTY_ROLES = frozenset({"county_admin", "county_supervisor", "county_print"})
SITE_ROLES = frozenset(ROLES) - COUNTY_ROLES

PERMISSIONS: dict[str, frozenset[str]] = {
    "view_person": frozenset(ROLES),
    "import": frozenset({"admin", "clerk"}),
    "edit_register": frozenset({"admin", "clerk"}),
    "print": frozenset({"admin", "clerk", "doctor", "village_doctor", "county_print"}),
    "all_print_jobs": frozenset({"admin", "county_print"}),  # see and download print jobs other users started
    "manage_form_sets": frozenset({"admin"}),  # define and delete custom form sets (自定义套组)
    "manage_printers": frozenset({"admin", "clerk"}),  # printer profiles and calibration (打印机校准)
    "manage_users": frozenset({"admin", "county_admin"}),
    "manage_sites": frozenset({"county_admin"}),  # add sites, transfer villages between them (机构撤并)
    # 全县打印: one print run across several sites (each part printed in its own site's scope)
    "print_county": frozenset({"county_admin", "county_print"}),
    "choose_site": COUNTY_ROLES,  # the county's list of sites, and which one to work in
    # set the archive's own township on a fresh installation (本院设置)
    "configure_site": frozenset({"admin", "county_admin"}),
    "own_account": frozenset(ROLES),  # change one's own password
    "view_audit": frozenset({"admin", "viewer", "county_admin", "county_supervisor"}),
    "request_loans": frozenset({"admin", "clerk", "doctor", "village_doctor"}),  # ask for folders (调阅申请)
    "lend": frozenset({"admin", "clerk"}),  # check out, return, renew, lost/found at the lending desk
    "approve_loans": frozenset({"admin"}),  # approve requests that need it (外单位, sensitive groups)
    "manage_locations": frozenset({"admin", "clerk", "county_admin"}),  # shelve, move, re-layout, 结案, 盘点, 移交
    # The room's own records: 盘点 counts and reports, 移交 lists (staff and supervisors; not village doctors).
    "view_reports": frozenset({"admin", "clerk", "viewer", "county_admin", "county_supervisor"}),
    # Services given (随访、体检 …) and the dates schedules count from (预产期 …), for the residents one may see.
    "record_services": frozenset({"admin", "clerk", "doctor", "village_doctor"}),
    # 督导: 建档率 and 在架率 (a village doctor: their own villages, by the scope), and entering 常住人口.
    "view_indicators": frozenset(ROLES),
    "enter_population": frozenset({"admin", "clerk"}),
    # 抽查: draw folders, read them against the checklist, sign the record (the county's 督导 is a viewer: this is
    # their job; it changes no register data). Village doctors and doctors do not inspect.
    "inspect": frozenset({"admin", "clerk", "viewer", "county_supervisor"}),
    "rectify": frozenset({"admin", "clerk"}),  # mark an inspection's 整改 task done (the archive room's work)
    # 回收归档: upload scanned stacks of returned pages, assign the pages no mark was read on, print filing lists.
    "intake": frozenset({"admin", "clerk"}),
}


def can(role: str, permission: str) -> bool:
    return role in PERMISSIONS.get(permission, frozenset())
