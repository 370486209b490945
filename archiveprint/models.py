"""Imports every job's models so Alembic and the metadata see all tables."""

from archiveprint.accounts.models import AuditEntry, LoginAttempt, User, UserSession
from archiveprint.due.models import ServiceVisit
from archiveprint.eventlog import Event
from archiveprint.forms.models import CustomFormSet
from archiveprint.indicators.models import PopulationFigure
from archiveprint.inspections.models import Inspection, InspectionCheck, InspectionFolder, InspectionTask
from archiveprint.intake.models import IntakeBatch, IntakePage, IntakeSetting
from archiveprint.jobs.models import Job
from archiveprint.labels.models import PrinterProfile
from archiveprint.lending.models import Borrower, Loan, LoanDocument, LoanRequest, LoanScan, borrower_villages
from archiveprint.locations.models import (
    FolderMovement,
    FolderPosition,
    Handover,
    HandoverItem,
    Inventory,
    InventoryScan,
    InventoryShelf,
    InventoryUpload,
    Shelf,
    StorageLayout,
)
from archiveprint.register.models import (
    Household,
    ImportRun,
    PopulationTag,
    Resident,
    Township,
    Village,
    resident_tags,
)
from archiveprint.sites.models import Site

__all__ = ["AuditEntry", "Borrower", "CustomFormSet", "Event", "FolderMovement", "FolderPosition", "Handover",
           "HandoverItem", "Household", "ImportRun", "Inspection", "InspectionCheck", "InspectionFolder",
           "InspectionTask", "IntakeBatch", "IntakePage", "IntakeSetting", "Inventory", "InventoryScan",
           "InventoryShelf", "InventoryUpload", "Job", "Loan", "LoanDocument", "LoanRequest", "LoanScan",
           "LoginAttempt", "PopulationFigure", "PopulationTag", "PrinterProfile", "Resident", "ServiceVisit", "Shelf",
           "Site", "StorageLayout", "Township", "User", "UserSession", "Village", "borrower_villages", "resident_tags"]
