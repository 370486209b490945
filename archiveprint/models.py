"""Imports every job's models so Alembic and the metadata see all tables."""

from archiveprint.accounts.models import AuditEntry, User
from archiveprint.eventlog import Event
from archiveprint.forms.models import CustomFormSet
from archiveprint.jobqueue import Job
from archiveprint.labels.models import PrinterProfile
from archiveprint.register.models import (
    Household,
    ImportRun,
    PopulationTag,
    Resident,
    Township,
    Village,
    resident_tags,
)

__all__ = ["AuditEntry", "CustomFormSet", "Event", "Household", "ImportRun", "Job", "PopulationTag", "PrinterProfile",
           "Resident", "Township", "User", "Village", "resident_tags"]
