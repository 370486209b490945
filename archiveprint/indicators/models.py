"""常住人口 figures: one row per figure given for a village and year; the latest counts, earlier ones are history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archiveprint.db import Base, utcnow
from archiveprint.register.models import Village

# The optional key-population figures a village committee gives beside its 常住人口 (column → its header).
KEY_FIGURES = ("age65", "age0_6", "maternal")


class PopulationFigure(Base):
    """常住人口 of one village in one year, with the optional 65岁及以上, 0-6岁 and 孕产妇 figures, as entered or
    imported. Append-only (the database refuses UPDATE and DELETE): a corrected figure is a new row, and the row
    with the highest id for a village and year is the one in force."""

    __tablename__ = "population_figures"
    __table_args__ = (
        CheckConstraint("year >= 1990 AND year <= 2100", name="year"),
        CheckConstraint("residents >= 0", name="residents"),
        CheckConstraint("age65 IS NULL OR age65 >= 0", name="age65"),
        CheckConstraint("age0_6 IS NULL OR age0_6 >= 0", name="age0_6"),
        CheckConstraint("maternal IS NULL OR maternal >= 0", name="maternal"),
        Index("ix_population_figures_village_year", "village_id", "year", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    year: Mapped[int] = mapped_column(Integer)
    residents: Mapped[int] = mapped_column(Integer)  # 常住人口
    age65: Mapped[int | None] = mapped_column(Integer)  # 65岁及以上
    age0_6: Mapped[int | None] = mapped_column(Integer)  # 0-6岁
    maternal: Mapped[int | None] = mapped_column(Integer)  # 孕产妇
    source: Mapped[str] = mapped_column(String(255), default="")  # 网页录入 / 命令行 / the imported file's name
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    village: Mapped[Village] = relationship()

    def values(self) -> dict[str, int | None]:
        """The figures as plain values: residents and each key figure."""
        return {"residents": self.residents, **{key: getattr(self, key) for key in KEY_FIGURES}}
