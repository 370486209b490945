"""Lists printed as ruled A4 tables straight into content streams (名单, 调档单): no layout engine, any length."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from archiveprint.pdf.draw import MM, line, text_run, truncate
from archiveprint.pdf.fonts import EmbeddedFont

A4 = (595.2756, 841.8898)


@dataclass(frozen=True)
class Column:
    """A column: its heading, its width in millimetres, and whether its text is centred."""

    heading: str
    width_mm: float
    centre: bool = False


@dataclass(frozen=True)
class Table:
    """What a listed table prints: a title, lines under it (unit, date, scope), the columns, rows of cell texts."""

    title: str
    subtitle: Sequence[str]
    columns: Sequence[Column]
    rows: Sequence[Sequence[str]]
    footer: str = ""  # printed at the foot of every page, left of the page number

    @property
    def rows_per_page(self) -> int:
        return max(1, int((A4[1] - TOP - BOTTOM - self._head_height) // ROW))

    @property
    def _head_height(self) -> float:
        return 12 * MM + len(self.subtitle) * 6 * MM + ROW

    @property
    def page_count(self) -> int:
        return max(1, -(-len(self.rows) // self.rows_per_page))


TOP = 15 * MM
BOTTOM = 15 * MM
LEFT = 12 * MM
ROW = 7.5 * MM
SIZE = 9.5


def table_pages(font: EmbeddedFont, table: Table) -> list[bytes]:
    """One content stream per A4 page: title and subtitle on every page, the heading row repeated, rows ruled,
    the page number at the foot. Cell texts too long for their column end in an ellipsis."""
    per_page = table.rows_per_page
    total = table.page_count
    return [_page(font, table, table.rows[start:start + per_page], number, total)
            for number, start in enumerate(range(0, max(1, len(table.rows)), per_page), start=1)]


def _page(font: EmbeddedFont, table: Table, rows: Sequence[Sequence[str]], number: int, total: int) -> bytes:
    width = sum(c.width_mm for c in table.columns) * MM
    top = A4[1] - TOP
    ops = [b"0 g 0 G 0.5 w\n", text_run(font, table.title, LEFT, top - 6 * MM, 15)]
    y = top - 12 * MM
    for text in table.subtitle:
        ops.append(text_run(font, truncate(font.metrics, text, width, 10), LEFT, y, 10))
        y -= 6 * MM
    for index, cells in enumerate([[c.heading for c in table.columns], *rows]):
        ops.append(line(LEFT, y, LEFT + width, y))
        x = LEFT
        size = SIZE if index else SIZE - 0.5
        for column, cell in zip(table.columns, cells, strict=False):
            room = column.width_mm * MM - 2 * MM
            text = truncate(font.metrics, str(cell), room, size)
            offset = (room - font.metrics.width(text, size)) / 2 if column.centre or not index else 0
            ops.append(text_run(font, text, x + 1 * MM + offset, y - ROW + 2.4 * MM, size))
            x += column.width_mm * MM
        y -= ROW
    ops.append(line(LEFT, y, LEFT + width, y))
    x = LEFT
    for column in [*table.columns, None]:  # the vertical rules
        ops.append(line(x, top - 12 * MM - len(table.subtitle) * 6 * MM, x, y))
        x += column.width_mm * MM if column else 0
    foot = f"{table.footer}    第 {number} / {total} 页" if table.footer else f"第 {number} / {total} 页"
    ops.append(text_run(font, foot, LEFT, BOTTOM - 6 * MM, 8.5))
    return b"".join(ops)
