"""A small register and the forms printed for it (through the print centre's own print_forms), with the truth of
every printed page: the stacks the intake tests scan back."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiveprint.db import Database
from archiveprint.forms.catalog import load_catalog
from archiveprint.forms.printer import FormPrinter
from archiveprint.forms.services import PrintOptions, Scope, print_forms
from archiveprint.register import services
from archiveprint.register.models import Resident
from archiveprint.register.queries import select_for_print
from tests.conftest import ACTOR, TODAY, setup_township
from tests.intake.scanner import Scanner, Truth, save_pdf, save_tiff, scan

STRANGER = "13012310020199999"  # a well-formed archive code with a good check digit that names nobody here
PEOPLE = (  # (village, head, members after the head)
    ("201", "赵大山", ("赵秀英",)),
    ("201", "钱大海", ("钱小宝",)),
    ("201", "孙长青", ()),
    ("202", "李西山", ("李秀兰",)),
)
# Which form each resident gets (by position in filing order): the 4-page check-up, the 2-page TCM record, the
# 1-page hypertension follow-up.
PRINTS = (("health_check", (0, 3)), ("elderly_tcm", (5,)), ("hypertension_followup", (0, 1, 2, 4, 5, 6)))


@dataclass(frozen=True)
class Printed:
    """The printed PDFs (each with a truth per page) and the register's codes in filing order."""

    codes: tuple[str, ...]
    names: dict[str, str]
    pdfs: tuple[tuple[bytes, tuple[Truth, ...]], ...]

    @property
    def marked(self) -> int:
        return sum(1 for _pdf, truths in self.pdfs for truth in truths if truth.kind == "marked")


def seed_register(session: Session) -> tuple[str, ...]:
    """Four households in 东村 and 西村, seven residents; their archive codes in filing order."""
    setup_township(session)
    for village, head, members in PEOPLE:
        home = services.create_household(session, services.find_village(session, village), head_name=head,
                                         address=f"{head}家", actor=ACTOR)
        services.register_resident(session, home, name=head, sex="1", birth_date=date(1950, 5, 5),
                                   relation_to_head="户主", actor=ACTOR)
        for name in members:
            services.register_resident(session, home, name=name, sex="2", birth_date=date(1952, 6, 6),
                                       relation_to_head="配偶", actor=ACTOR)
    session.flush()
    return tuple(session.scalars(select_for_print().with_only_columns(Resident.archive_code)))


_PRINTED: dict[tuple[str, ...], Printed] = {}


def print_stack(database: Database, tmp_path: Path) -> Printed:
    """The forms of PRINTS printed prefilled for the register's residents, a blank follow-up sheet (no mark: a form
    filled by hand for someone new) and a sheet whose mark names nobody in the register. The same register always
    has the same codes, so the PDFs are printed once per test run."""
    with database.reader() as session:
        codes = tuple(session.scalars(select_for_print().with_only_columns(Resident.archive_code)))
        names = {code: name for code, name in session.execute(select(Resident.archive_code, Resident.name))}
        if codes in _PRINTED:
            return _PRINTED[codes]
        catalog = load_catalog()
        pdfs = []
        for form_id, who in PRINTS:
            form = catalog.forms[form_id]
            chosen = tuple(codes[i] for i in who)
            target = tmp_path / f"{form_id}.pdf"
            print_forms(session, form_id, Scope(codes=chosen), target, kind="form", today=TODAY)
            truths = tuple(Truth("marked", code, form.number, page)
                           for code in sorted(chosen, key=codes.index) for page in range(1, form.pages + 1))
            pdfs.append((target.read_bytes(), truths))
        blank = tmp_path / "blank.pdf"
        print_forms(session, "hypertension_followup", Scope(), blank, kind="form",
                    options=PrintOptions(blank=True), today=TODAY)
        pdfs.append((blank.read_bytes(), (Truth("unmarked"),)))
        out = io.BytesIO()
        printer = FormPrinter(out)
        printer.add_form(catalog.forms["hypertension_followup"], {"name": "外乡人"}, code17=STRANGER)
        printer.close()
        pdfs.append((out.getvalue(), (Truth("unmarked"),)))
    printed = Printed(codes, names, tuple(pdfs))
    _PRINTED[codes] = printed
    return printed


@pytest.fixture
def register(committed_db: Database) -> tuple[str, ...]:
    with committed_db.transaction() as session:
        return seed_register(session)


@pytest.fixture
def printed(committed_db: Database, register: tuple[str, ...], tmp_path: Path) -> Printed:
    return print_stack(committed_db, tmp_path)


def scanned_stack(printed: Printed, path: Path, *, which: slice = slice(None), scanner: Scanner | None = None
                  ) -> tuple[Path, list[Truth]]:
    """Some of the printed PDFs scanned into one file (PDF or TIFF by `path`'s suffix), and each page's truth."""
    scanner = scanner or Scanner()
    scanned = scan(printed.pdfs[which], scanner)
    save = save_tiff if path.suffix in (".tif", ".tiff") else save_pdf
    save([image for image, _truth in scanned], path, scanner.dpi)
    return path, [truth for _image, truth in scanned]
