"""The printed documents of a transfer between sites, written as PDFs into one folder: the sending site's handover
list (three copies) and its pick list in the old rooms' walking order, and the receiving site's new shelf labels."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.scope import apply_scope, current_scope, site_scope
from archiveprint.accounts.services import audit
from archiveprint.clock import local_time
from archiveprint.labels.services import LabelScope, audit_labels, print_labels
from archiveprint.locations.documents import print_handover
from archiveprint.locations.picklist import render_picklist_pdf
from archiveprint.register.services import get_township
from archiveprint.sites.services import find_site
from archiveprint.sites.transfer import Transfer

SHELF_LABEL_KIND = "shelf"
NAMES = {"handover": "handover-{number}.pdf", "picklist": "picklist-{number}.pdf", "labels": "shelf-labels.pdf"}


def transfer_folder(instance_dir: Path, event_id: int) -> Path:
    """Where a transfer's documents are kept: <instance>/transfers/<event id>/."""
    return instance_dir / "transfers" / str(event_id)


def write_documents(session: Session, transfer: Transfer, folder: Path, *, user: User | None, actor: str,
                    now: datetime, timezone: str, instance_dir: Path | None = None,
                    progress: Callable[[int], None] | None = None) -> dict[str, Path]:
    """Write the documents of a transfer carried out (the handover list and pick list in the sending site's name,
    the shelf labels in the receiving site's), each print audited; returns them by key (NAMES). `progress` hears
    how many are written after each."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    written: dict[str, Path] = {}
    scope = current_scope(session)
    try:
        if transfer.handover is not None:
            apply_scope(session, site_scope(session, find_site(session, transfer.source).id))
            number = transfer.handover.number or "preview"
            path = folder / NAMES["handover"].format(number=number)
            path.write_bytes(print_handover(session, transfer.handover, user=user, now=now, timezone=timezone))
            written["handover"] = path
            _tell(progress, written)
            for row in transfer.picklist.rows:
                audit(session, user, "print", "household", row.location.household_id,
                      detail=f"调档单 移交 {number}", now=now)
            path = folder / NAMES["picklist"].format(number=number)
            note = f"移交 {number}：{transfer.source_name} → {transfer.target_name}，按此顺序从原库房取出"
            path.write_bytes(render_picklist_pdf(transfer.picklist, day=local_time(now, timezone).date(),
                                                 unit=get_township(session).unit_name, note=note))
            written["picklist"] = path
            _tell(progress, written)
        if transfer.labels:
            apply_scope(session, site_scope(session, find_site(session, transfer.target).id))
            path = folder / NAMES["labels"]
            labels = print_labels(session, SHELF_LABEL_KIND, "",
                                  LabelScope(locations=tuple(label.code for label in transfer.labels)), path,
                                  instance_dir=instance_dir)
            audit_labels(session, labels, user=user, actor=actor)
            written["labels"] = path
            _tell(progress, written)
        session.flush()
    finally:
        apply_scope(session, scope)
    return written


def _tell(progress: Callable[[int], None] | None, written: dict[str, Path]) -> None:
    if progress is not None:
        progress(len(written))
