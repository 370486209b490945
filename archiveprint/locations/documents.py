"""The printed documents of the archive room: the signed inventory record (盘点记录) and the handover list
(移交清单) in three copies. WeasyPrint lays them out from templates/locations/; each print audits every household."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from archiveprint import resources
from archiveprint.accounts.models import User
from archiveprint.accounts.services import audit
from archiveprint.clock import local_time
from archiveprint.locations.handover import HandoverList
from archiveprint.locations.inventory import CATEGORIES, InventoryReport, audit_report, reconcile
from archiveprint.locations.models import Inventory
from archiveprint.locations.queries import StatusProvider
from archiveprint.pdf.weasy import render, template_env
from archiveprint.register.services import get_township


def _render(name: str, context: dict[str, object]) -> bytes:
    """templates/locations/<name>.html with its stylesheet, as PDF bytes."""
    html = template_env().get_template(f"locations/{name}.html").render(**context)
    css = (resources.template_dir() / "locations" / f"{name}.css").read_text(encoding="utf-8")
    return render(html, stylesheets=[css]).write_pdf()


# --- the signed inventory record (盘点记录) -------------------------------------------------------------------

PRINTED = ("missing", "misplaced", "unknown", "twice", "lent", "recovered", "closed", "out_of_range")


def inventory_context(report: InventoryReport, *, unit: str, day: str, timezone: str = "UTC") -> dict[str, object]:
    """The plain dict the template sees: header, totals per category, then one table per problem category. Times
    are printed in the site's zone (stored as UTC: a count closed at 07:30 in Shanghai is dated that day)."""
    sections = []
    for category in PRINTED:
        rows = report.rows.get(category, [])
        if rows or category in ("missing", "misplaced", "unknown", "twice", "lent"):
            sections.append({"key": category, "title": CATEGORIES[category], "rows": [
                {"number": i, "folder": r.folder or r.code, "head": r.head_name, "home": r.home or "—",
                 "found_on": r.found_on or "", "note": r.note} for i, r in enumerate(rows, start=1)]})
    return {"title": "档案盘点记录", "unit": unit, "number": report.number, "day": day, "range": report.scope_text,
            "counters": report.counters, "supervisor": report.supervisor,
            "started": f"{local_time(report.started_at, timezone):%Y-%m-%d %H:%M}",
            "closed": f"{local_time(report.closed_at, timezone):%Y-%m-%d %H:%M}" if report.closed_at else "（未结束）",
            "expected": report.expected, "scans": report.scans, "folders_scanned": report.folders_scanned,
            "totals": [{"key": c, "title": CATEGORIES[c], "count": n} for c, n in report.counts.items()],
            "marked_missing": report.marked_missing, "marked_found": report.marked_found, "sections": sections}


def render_inventory(context: dict[str, object]) -> bytes:
    return _render("inventory", context)


def print_inventory(session: Session, inventory: Inventory, *, user: User | None,
                    providers: Sequence[StatusProvider] = (), now: datetime, timezone: str) -> bytes:
    """The signed inventory record as A4 PDF, with an audit row for each household it names; dated and timed in
    the site's zone."""
    report = reconcile(session, inventory, providers=providers)
    audit_report(session, report, user, "print", now=now)
    day = f"{local_time(report.closed_at or now, timezone):%Y年%m月%d日}"
    return render_inventory(inventory_context(report, unit=get_township(session).unit_name, day=day,
                                              timezone=timezone))


# --- the handover list (移交清单) -------------------------------------------------------------------------------

COPIES = ("移交方留存", "接收方留存", "监交方留存")


def handover_context(handover: HandoverList, *, unit: str, day: str) -> dict[str, object]:
    """The plain dict the template sees; the list is printed once per copy, each copy naming who keeps it."""
    rows = [{"number": line.seq, "folder": line.folder, "household": f"{line.village_name} 第{line.household_number}户",
             "head": line.head_name, "records": line.records, "pages": line.pages or "", "note": line.note}
            for line in handover.lines]
    return {"title": "档案移交清单", "unit": unit, "number": handover.number or "（预览，未登记）", "day": day,
            "preview": handover.number is None, "selection": handover.selection, "from_party": handover.from_party,
            "to_party": handover.to_party, "supervisor": handover.supervisor, "reason": handover.reason,
            "rows": rows, "folders": len(rows), "records": handover.records, "copies": list(COPIES),
            "written_off": [{"number": n, "folder": w.folder, "household": f"{w.village_name} 第{w.household_number}户",
                             "head": w.head_name, "day": f"{w.at:%Y-%m-%d}", "actor": w.actor, "reason": w.reason,
                             "approved_by": w.approved_by, "loan": w.loan}
                            for n, w in enumerate(handover.written_off, start=1)]}


def render_handover(context: dict[str, object]) -> bytes:
    return _render("handover", context)


def print_handover(session: Session, handover: HandoverList, *, user: User | None, now: datetime,
                   timezone: str) -> bytes:
    """The handover list in three copies as one A4 PDF, with an audit row for each household on it; dated in the
    site's zone."""
    for line in handover.lines:
        audit(session, user, "print", "household", line.household_id,
              detail=f"移交清单 {handover.number or '预览'}", now=now)
    day = f"{local_time(handover.handed_at or now, timezone):%Y年%m月%d日}"
    return render_handover(handover_context(handover, unit=get_township(session).unit_name, day=day))
