"""回收归档: read a scanned stack page by page, file each page its mark names (an event on the resident), queue the
rest for the clerk, and let the clerk assign or set aside what could not be read."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from archiveprint.accounts.models import User
from archiveprint.accounts.services import audit
from archiveprint.db import Database, utcnow
from archiveprint.errors import Conflict, InvalidValue, NotFound
from archiveprint.eventlog import record_event
from archiveprint.forms.catalog import FormDef, load_catalog
from archiveprint.intake import images
from archiveprint.intake.decode import Mark, Reading, read_page
from archiveprint.intake.models import KEEP_CHOICES, IntakeBatch, IntakePage, IntakeSetting
from archiveprint.intake.sources import PagePicture, StackFile, iter_pages
from archiveprint.register.codes import parse_code
from archiveprint.register.models import Resident

Progress = Callable[[int, int], None]
DUPLICATE_DAYS = 90  # the same page filed from a batch received this many days before is taken as scanned twice
CHUNK = 25  # pages written per transaction: progress shows, and no write lock is held while pages are read
WORKERS = 2  # pages read at once (zxing-cpp lets go of Python's lock while it decodes)
RETURNED = "form.returned"  # the event on a resident for each page filed


@dataclass(frozen=True)
class Target:
    """Where a page goes: a resident (and so a folder), a form and its page."""

    resident: Resident
    form: FormDef
    page: int


def forms_by_number() -> dict[int, FormDef]:
    """The forms by the two-digit number their marks carry."""
    return {form.number: form for form in load_catalog().forms.values()}


def form_by_number(number: int) -> FormDef:
    found = forms_by_number().get(number)
    if found is None:
        raise NotFound("没有编号为 {number} 的表单", params={"number": number}, field="表单", value=number)
    return found


# --- the site's choice of pictures to keep ---------------------------------------------------------------------

def keep_images(session: Session) -> str:
    """none / preview / full: what is kept of each filed page (none until an administrator chooses)."""
    row = session.get(IntakeSetting, 1)
    return row.keep_images if row is not None else "none"


def set_keep_images(session: Session, choice: str, *, actor: str, user: User | None = None,
                    now: datetime | None = None) -> str:
    """Change what is kept of the pages filed from now on (pages kept before stay as they are); an event and an
    audit row say who changed it."""
    if choice not in KEEP_CHOICES:
        raise InvalidValue("可选值：{choices}", params={"choices": " / ".join(KEEP_CHOICES)}, field="保留页面图像",
                           value=choice)
    now = now or utcnow()
    row = session.get(IntakeSetting, 1)
    before = row.keep_images if row is not None else "none"
    if row is None:
        row = IntakeSetting(id=1, keep_images=choice, changed_by=actor, changed_at=now)
        session.add(row)
    else:
        row.keep_images, row.changed_by, row.changed_at = choice, actor, now
    record_event(session, "intake.keep_images", "site", "intake", actor=actor, now=now, before=before, after=choice)
    audit(session, user, "configure", "site", "intake_images", now=now, detail=f"keep_images {before} → {choice}")
    session.flush()
    return choice


# --- a batch ---------------------------------------------------------------------------------------------------

def start_batch(session: Session, stack: Sequence[StackFile], *, received_on: date, actor: str,
                job_id: int | None = None) -> IntakeBatch:
    """A batch for a checked stack (sources.inspect_files), queued to be read; the caller commits."""
    batch = IntakeBatch(created_by=actor, received_on=received_on, status="queued", job_id=job_id,
                        files=[{"name": item.name, "pages": item.pages} for item in stack],
                        pages=sum(item.pages for item in stack), keep_images=keep_images(session))
    session.add(batch)
    session.flush()
    return batch


@dataclass
class PageResult:
    """One page read (off the database): its picture's reading and the JPEG to keep, if one may be needed."""

    picture: PagePicture
    reading: Reading
    picture_bytes: bytes | None = None


def _read(picture: PagePicture, keep: str) -> PageResult:
    """Read one page and make the picture it may need; the full picture is let go here. A page the clerk must look
    at (or every page, where full scans are kept) gets its scan; a page whose mark was read gets a smaller copy —
    whether it is filed is known only once the register is asked, and a mark that names nobody sends it to the
    clerk after all (a filed page then keeps a preview of that copy, or nothing)."""
    reading = read_page(picture.load(), picture.dpi)
    result = PageResult(picture, reading)
    if picture.image is not None and not reading.blank:
        read = len(reading.marks) == 1
        target = images.SCAN_DPI if not read or keep == "full" else images.SPARE_DPI
        result.picture_bytes = images.encode(picture.image, picture.dpi, target=target)
    picture.image = None
    return result


def read_pages(stack: Sequence[StackFile], keep: str, *, workers: int = WORKERS, skip: int = 0
               ) -> Iterator[PageResult]:
    """Every page read (after the first `skip`), in stack order: pdfium takes them one by one here while `workers`
    threads decode; at most a few pictures are held at once."""
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="archiveprint-intake") as pool:
        pending: deque[Future[PageResult]] = deque()
        for number, picture in enumerate(iter_pages(stack)):
            if number < skip:
                continue
            pending.append(pool.submit(_read, picture, keep))
            while len(pending) > workers * 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def read_batch(database: Database, batch_id: int, stack: Sequence[StackFile], *, instance_dir: Path, actor: str,
               progress: Progress | None = None, workers: int = WORKERS) -> None:
    """Read a queued batch to the end, writing its pages CHUNK at a time. A stopped job leaves what it wrote; run
    again (a retried job), it goes on after the pages already written."""
    started = time.perf_counter()
    with database.transaction() as session:
        batch = _batch(session, batch_id)
        if batch.status not in ("queued", "failed"):
            raise Conflict("这一批已在读取或已读完", field="批次", value=batch_id)
        batch.status = "running"
        keep, total = batch.keep_images, batch.pages
        seq = session.scalar(select(func.count(IntakePage.id)).where(IntakePage.batch_id == batch_id)) or 0
    catalog = forms_by_number()
    done_before = seq
    chunk: list[PageResult] = []

    def write() -> None:
        nonlocal seq
        with database.transaction() as session:
            batch = _batch(session, batch_id)
            for result in chunk:
                seq += 1
                _file_read_page(session, batch, seq, result, catalog, instance_dir=instance_dir, actor=actor)
        chunk.clear()
        if progress:
            progress(seq, total)

    try:
        for result in read_pages(stack, keep, workers=workers, skip=done_before):
            chunk.append(result)
            if len(chunk) >= CHUNK:
                write()
        if chunk:
            write()
    except BaseException as error:
        with database.transaction() as session:
            session.execute(update(IntakeBatch).where(IntakeBatch.id == batch_id).values(
                status="failed", error=str(error)[:2000], seconds=time.perf_counter() - started))
        raise
    with database.transaction() as session:
        session.execute(update(IntakeBatch).where(IntakeBatch.id == batch_id).values(
            status="done", pages=seq, seconds=time.perf_counter() - started))


def _batch(session: Session, batch_id: int) -> IntakeBatch:
    batch = session.get(IntakeBatch, batch_id)
    if batch is None:
        raise NotFound("没有这一批回收的表单", field="批次", value=batch_id)
    return batch


def resolve(session: Session, mark: Mark, catalog: dict[int, FormDef]) -> Target | str:
    """The resident, form and page a mark names, or why it names none (decode.REASONS): the form number must be one
    of ours, the page digit one page of it, the archive code a resident in the register."""
    form = catalog.get(mark.form_number)
    if form is None:
        return "unknown_form"
    pages = [page for page in range(1, form.pages + 1) if page % 10 == mark.page_digit]
    if len(pages) != 1:
        return "bad_page"
    resident = session.scalar(select(Resident).where(Resident.archive_code == mark.code17))
    if resident is None:
        return "unknown_resident"
    return Target(resident, form, pages[0])


def earlier_filing(session: Session, batch: IntakeBatch, target: Target) -> IntakePage | None:
    """The same page filed already: in this batch, or from a batch received in the DUPLICATE_DAYS before."""
    since = batch.received_on - timedelta(days=DUPLICATE_DAYS)
    stmt = (select(IntakePage).join(IntakeBatch, IntakeBatch.id == IntakePage.batch_id)
            .where(IntakePage.resident_id == target.resident.id, IntakePage.form_number == target.form.number,
                   IntakePage.form_page == target.page, IntakePage.outcome == "filed",
                   (IntakePage.batch_id == batch.id) | (IntakeBatch.received_on >= since))
            .order_by(IntakePage.id.desc()).limit(1))
    return session.scalar(stmt)


def _file_read_page(session: Session, batch: IntakeBatch, seq: int, result: PageResult,
                    catalog: dict[int, FormDef], *, instance_dir: Path, actor: str) -> IntakePage:
    reading = result.reading
    page = IntakePage(batch_id=batch.id, seq=seq, file_name=result.picture.file[:255],
                      file_page=result.picture.number, outcome="unreadable", reason=reading.reason,
                      decoded=",".join(mark.text for mark in reading.marks)[:64] or ",".join(reading.rejected)[:64])
    if reading.blank:
        page.outcome, page.reason = "blank", ""
    elif not reading.reason:
        target = resolve(session, reading.marks[0], catalog)
        if isinstance(target, str):
            page.reason = target
        else:
            _aim(page, target, how="mark")
            earlier = earlier_filing(session, batch, target)
            if earlier is not None:
                page.outcome, page.duplicate_of = "duplicate", earlier.id
            else:
                page.outcome = "filed"
    session.add(page)
    session.flush()
    data = result.picture_bytes
    if data is not None and (page.outcome != "filed" or batch.keep_images != "none"):
        kind = "scan"
        if page.outcome == "filed" and batch.keep_images == "preview":
            data, kind = images.shrink(data), "preview"
        page.image = images.save(instance_dir, images.relative_path(batch.id, seq, kind), data)
    if page.outcome == "filed":
        _record_filing(session, batch, page, catalog, actor=actor)
    return page


def _aim(page: IntakePage, target: Target, *, how: str) -> None:
    page.resident_id = target.resident.id
    page.household_id = target.resident.household_id
    page.archive_code = target.resident.archive_code
    page.form_number = target.form.number
    page.form_page = target.page
    page.how = how


def _record_filing(session: Session, batch: IntakeBatch, page: IntakePage, catalog: dict[int, FormDef], *,
                   actor: str, now: datetime | None = None) -> None:
    """The event that says a page came back for a resident: which form and page, received on, in which batch."""
    form = catalog.get(page.form_number or 0)
    record_event(session, RETURNED, "resident", page.archive_code, actor=actor, now=now,
                 form=form.title if form else str(page.form_number), form_number=page.form_number,
                 page=page.form_page, received_on=batch.received_on, batch=batch.id, how=page.how)


# --- the clerk's decisions -------------------------------------------------------------------------------------

OPEN = ("unreadable", "duplicate")  # pages that wait for the clerk


def get_page(session: Session, page_id: int) -> IntakePage:
    page = session.get(IntakePage, page_id)
    if page is None:
        raise NotFound("没有这一页", field="页", value=page_id)
    return page


def _open_page(session: Session, page_id: int) -> IntakePage:
    page = get_page(session, page_id)
    if page.outcome not in OPEN:
        raise Conflict("这一页已经处理过了（{outcome}）", params={"outcome": page.outcome}, field="页",
                       value=page_id)
    return page


def assign_page(session: Session, page_id: int, *, archive_code: str, form_number: int, form_page: int,
                actor: str, instance_dir: Path, now: datetime | None = None) -> IntakePage:
    """The clerk says whose page it is (a page with no readable mark): it is filed like a read one, unless the same
    page was filed already (then it is reported as a duplicate, as a read page would be)."""
    now = now or utcnow()
    page = _open_page(session, page_id)
    code = parse_code(archive_code).value
    resident = session.scalar(select(Resident).where(Resident.archive_code == code))
    if resident is None:
        raise NotFound("没有这份档案", field="档案编号", value=archive_code)
    form = form_by_number(form_number)
    if not 1 <= form_page <= form.pages:
        raise InvalidValue("{form}只有 {pages} 页", params={"form": form.title, "pages": form.pages}, field="页码",
                           value=form_page)
    target = Target(resident, form, form_page)
    batch = page.batch
    earlier = earlier_filing(session, batch, target)
    if earlier is not None and earlier.id != page.id:
        raise Conflict("{name}的{form}第 {page} 页已于 {day} 归档（第 {batch} 批），不再重复归档；如确是新的一张，"
                       "请在该页上选择“仍然归档”", params={"name": resident.name, "form": form.title, "page": form_page,
                                                "day": earlier.batch.received_on.isoformat(),
                                                "batch": earlier.batch_id},
                       field="页", value=page_id)
    _aim(page, target, how="manual")
    page.outcome, page.reason, page.duplicate_of = "filed", "", None
    _decided(page, actor, now)
    _keep_picture(page, batch.keep_images, instance_dir)
    session.flush()
    _record_filing(session, batch, page, forms_by_number(), actor=actor, now=now)
    return page


def file_anyway(session: Session, page_id: int, *, actor: str, instance_dir: Path,
                now: datetime | None = None) -> IntakePage:
    """仍然归档: a page reported as a duplicate is a new sheet after all (the same form printed again), filed."""
    now = now or utcnow()
    page = _open_page(session, page_id)
    if page.outcome != "duplicate":
        raise Conflict("只有重复的页可以“仍然归档”；无法识别的页请指定归属", field="页", value=page_id)
    clash = session.scalar(select(IntakePage.id).where(
        IntakePage.batch_id == page.batch_id, IntakePage.resident_id == page.resident_id,
        IntakePage.form_number == page.form_number, IntakePage.form_page == page.form_page,
        IntakePage.outcome == "filed"))
    if clash is not None:
        raise Conflict("同一批中这一页已经归档过一次，同一批不会有同一页的两张", field="页", value=page_id)
    page.outcome, page.how = "filed", page.how or "mark"
    _decided(page, actor, now)
    _keep_picture(page, page.batch.keep_images, instance_dir)
    session.flush()
    _record_filing(session, page.batch, page, forms_by_number(), actor=actor, now=now)
    return page


def set_aside(session: Session, page_id: int, *, actor: str, instance_dir: Path,
              now: datetime | None = None) -> IntakePage:
    """放在一边: a page that is no archive page of ours (or not now); its picture is not kept."""
    page = _open_page(session, page_id)
    page.outcome = "set_aside"
    _decided(page, actor, now or utcnow())
    images.remove(instance_dir, page.image)
    page.image = ""
    session.flush()
    return page


def _decided(page: IntakePage, actor: str, now: datetime) -> None:
    page.decided_by, page.decided_at = actor, now


def _keep_picture(page: IntakePage, keep: str, instance_dir: Path) -> None:
    """A page the clerk filed keeps what the site keeps of filed pages: its queued scan, a preview of it, or none."""
    if not page.image or keep == "full":
        return
    data = images.load(instance_dir, page.image)
    images.remove(instance_dir, page.image)
    page.image = ""
    if keep == "preview" and data is not None:
        page.image = images.save(instance_dir, images.relative_path(page.batch_id, page.seq, "preview"),
                                 images.shrink(data))
