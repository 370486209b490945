"""Printer profiles (打印机校准): set or measure one printer's offset and creep for one stock, and look them up."""

from __future__ import annotations

from sqlalchemy.orm import Session

from archiveprint.errors import InvalidValue, Message, NotFound, joined
from archiveprint.eventlog import record_event
from archiveprint.labels import calibration as calibration_sheet
from archiveprint.labels import queries
from archiveprint.labels.models import PrinterProfile
from archiveprint.labels.sheet import NO_CALIBRATION, Calibration, corrected, shift_from_measurement
from archiveprint.labels.stock import LabelStock


def printer_setup(session: Session, stock: LabelStock, printer: str | None,
                  dpi: int | None = None) -> tuple[Calibration, int]:
    """The calibration and dpi a job prints with: the printer's profile for this stock, else none."""
    if printer:
        profile = queries.find_printer_profile(session, printer, stock.id)
        if profile is None:
            known = [p.stock for p in queries.list_printer_profiles(session, printer)]
            hint = Message("（已校准的标签纸：{stocks}）", {"stocks": joined(known)}) if known else ""
            raise NotFound("打印机“{printer}”还没有为标签纸 {stock} 校准{hint}；先打印校准页并量出偏移",
                           params={"printer": printer, "stock": stock.id, "hint": hint},
                           field="打印机", value=printer,
                           hint="再运行 archiveprint labels printer calibrate 或 labels printer set",
                           action="calibrate_printer")
        return (Calibration(profile.dx, profile.dy, profile.creep_x, profile.creep_y),
                dpi or profile.dpi)
    return NO_CALIBRATION, dpi or stock.default_dpi


def set_printer_profile(session: Session, printer: str, stock: LabelStock, *, dx: float = 0.0, dy: float = 0.0,
                        creep_x: float = 0.0, creep_y: float = 0.0, dpi: int | None = None,
                        actor: str) -> PrinterProfile:
    """Create or change one printer's correction for one stock; the change is an event."""
    printer = printer.strip()
    if not printer or len(printer) > 64:
        raise InvalidValue("打印机名称不能为空，最多64个字", field="打印机", value=printer)
    for label, value in (("dx", dx), ("dy", dy)):
        if abs(value) > 20:
            raise InvalidValue("偏移 {label} 超过 20 mm，请检查是否按「实际大小」打印",
                               params={"label": label}, field=label, value=value)
    for label, value in (("creep-x", creep_x), ("creep-y", creep_y)):
        if abs(value) > 2:
            raise InvalidValue("蠕变 {label} 超过每格 2 mm，请检查测量",
                               params={"label": label}, field=label, value=value)
    profile = queries.find_printer_profile(session, printer, stock.id)
    before = None
    if profile is None:
        profile = PrinterProfile(printer=printer, stock=stock.id, dpi=dpi or stock.default_dpi, updated_by=actor)
        session.add(profile)
    else:
        before = {"dx": profile.dx, "dy": profile.dy, "creep_x": profile.creep_x, "creep_y": profile.creep_y,
                  "dpi": profile.dpi}
    if dpi is not None and not 100 <= dpi <= 2400:
        raise InvalidValue("打印分辨率应在 100–2400 dpi 之间", field="dpi", value=dpi)
    profile.dx, profile.dy, profile.creep_x, profile.creep_y = dx, dy, creep_x, creep_y
    profile.dpi = dpi or profile.dpi
    profile.updated_by = actor
    session.flush()
    record_event(session, "label_printer.set", "label_printer", profile.id, actor=actor, printer=printer,
                 stock=stock.id, before=before, dx=dx, dy=dy, creep_x=creep_x, creep_y=creep_y, dpi=profile.dpi)
    return profile


def calibrate_printer(session: Session, printer: str, stock: LabelStock, *, measured: tuple[float, float],
                      measured_last: tuple[float, float] | None = None, dpi: int | None = None,
                      actor: str) -> PrinterProfile:
    """From the distances a clerk measured on a calibration sheet (printed with the current profile), the
    correction that puts the next sheet straight."""
    profile = queries.find_printer_profile(session, printer, stock.id)
    current = Calibration(profile.dx, profile.dy, profile.creep_x, profile.creep_y) if profile else NO_CALIBRATION
    first = shift_from_measurement(calibration_sheet.nominal_centre(stock, 1), measured)
    last = None
    if measured_last is not None:
        if stock.per_page == 1:
            raise InvalidValue("卷筒标签只有一格，不需要量最后一格", field="最后一格")
        last = shift_from_measurement(calibration_sheet.nominal_centre(stock, stock.per_page), measured_last)
    new = corrected(stock, current, first, last)
    return set_printer_profile(session, printer, stock, dx=new.dx, dy=new.dy, creep_x=new.creep_x,
                               creep_y=new.creep_y, dpi=dpi, actor=actor)


def delete_printer_profile(session: Session, printer: str, stock: str, *, actor: str) -> None:
    profile = queries.find_printer_profile(session, printer, stock)
    if profile is None:
        raise NotFound("没有这个打印机校准", field="打印机", value=f"{printer} / {stock}")
    record_event(session, "label_printer.deleted", "label_printer", profile.id, actor=actor, printer=printer,
                 stock=stock)
    session.delete(profile)
    session.flush()

