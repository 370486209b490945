"""Form tables: the custom form sets (自定义套组) a supervisor defines in the print centre."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from archiveprint.db import Base, site_column, unique_in_site, utcnow


class CustomFormSet(Base):
    """A named list of form ids printed together, kept beside the built-in sets of templates/forms/sets.yaml."""

    __tablename__ = "custom_form_sets"
    __table_args__ = (unique_in_site("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int | None] = site_column()
    key: Mapped[str] = mapped_column(String(32), unique=True)  # custom_<hex>: what print jobs name
    name: Mapped[str] = mapped_column(String(64))  # unique in its site
    forms: Mapped[list[str]] = mapped_column(JSON, default=list)  # form ids, in print order
    description: Mapped[str] = mapped_column(String(200), default="")
    population: Mapped[str | None] = mapped_column(String(32))  # populations.yaml id: printed by default, or none
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
