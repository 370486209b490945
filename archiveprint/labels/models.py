"""Label tables: printer profiles — per printer and stock, the offset and creep measured on a calibration sheet."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from archiveprint.db import Base, site_column, unique_in_site, utcnow


class PrinterProfile(Base):
    """How one printer places one stock (打印机校准): applied only when drawing, so the stock stays true.

    `dx`/`dy` move everything right/down (mm); `creep_x`/`creep_y` are added per column/row step; `dpi` sets the
    whole-dot module width of the barcodes.
    """

    __tablename__ = "label_printer_profiles"
    __table_args__ = (
        unique_in_site("printer", "stock"),
        CheckConstraint("dpi >= 100 AND dpi <= 2400", name="dpi_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    printer: Mapped[str] = mapped_column(String(64))
    stock: Mapped[str] = mapped_column(String(64))
    dx: Mapped[float] = mapped_column(Float, default=0.0)
    dy: Mapped[float] = mapped_column(Float, default=0.0)
    creep_x: Mapped[float] = mapped_column(Float, default=0.0)
    creep_y: Mapped[float] = mapped_column(Float, default=0.0)
    dpi: Mapped[int] = mapped_column(Integer, default=300)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def as_json(self) -> dict[str, object]:
        return {"printer": self.printer, "stock": self.stock, "dx": self.dx, "dy": self.dy, "creep_x": self.creep_x,
                "creep_y": self.creep_y, "dpi": self.dpi, "updated_by": self.updated_by, "updated_at": self.updated_at}

    def text_lines(self) -> list[str]:
        return [f"{self.printer} / {self.stock}：右移 {self.dx:+.2f} mm，下移 {self.dy:+.2f} mm，"
                f"每列 {self.creep_x:+.3f} mm，每行 {self.creep_y:+.3f} mm，{self.dpi} dpi"]
