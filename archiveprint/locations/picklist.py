"""The printable pick list (调档单): a small one-off PDF through WeasyPrint, from plain values only."""

from __future__ import annotations

from datetime import date

from archiveprint import resources
from archiveprint.locations.queries import PickList
from archiveprint.pdf.weasy import render, template_env

TITLE = "调档单"


def picklist_context(picklist: PickList, *, day: date, unit: str = "", note: str = "") -> dict[str, object]:
    """The plain dict the template sees (never ORM objects)."""
    rows = []
    for row in picklist.rows:
        place = row.location.place
        rows.append({"number": row.number, "address": place.address, "folder": row.location.folder_display,
                     "head": row.location.head_name, "wanted": row.wanted, "status": place.status.text,
                     "away": place.state != "on_shelf"})
    return {"title": TITLE, "unit": unit, "day": f"{day:%Y年%m月%d日}", "note": note, "rows": rows,
            "not_found": [{"code": code, "error": error} for code, error in picklist.not_found]}


def render_picklist_pdf(picklist: PickList, *, day: date, unit: str = "", note: str = "") -> bytes:
    html = template_env().get_template("locations/picklist.html").render(
        **picklist_context(picklist, day=day, unit=unit, note=note))
    css = (resources.template_dir() / "locations" / "picklist.css").read_text(encoding="utf-8")
    return render(html, stylesheets=[css]).write_pdf()
