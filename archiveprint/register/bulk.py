"""Bulk INSERTs for the importer: one DBAPI executemany, each column's values converted by its SQLAlchemy type."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Date, DateTime, Table
from sqlalchemy.orm import Session

from archiveprint.sites.models import working_site


def insert_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]],
                same: dict[str, Any] | None = None) -> None:
    """INSERT rows (dicts with the same keys, by column name) in one executemany on the session's connection.

    What SQLAlchemy does per row for `session.execute(insert(Model), rows)` — the ORM's bulk bookkeeping, then
    compiling each row's parameters — took most of a 100,000-row import's write time; here each column's
    bind processor (a date or JSON for the dialect) is looked up once. Columns left out get their default,
    computed once for all the rows, as are the values in `same` (by column name), which every row shares. Nothing
    is returned (no primary keys): the caller reads back what it needs.
    """
    if not rows:
        return
    session.flush()  # as session.execute() of an ORM statement would (autoflush)
    connection = session.connection()
    dialect = connection.dialect
    keys = list(rows[0])
    same = dict(same or {})
    if "site_id" in table.c and "site_id" not in keys:  # as the scope gives ORM rows theirs (accounts/scope.py)
        same.setdefault("site_id", working_site(session))
    missing = [column for column in table.columns
               if column.name not in keys and column.name not in same and column.default is not None]
    defaults = [column.default.arg(None) if callable(column.default.arg) else column.default.arg  # type: ignore[union-attr]
                for column in missing]
    missing += [table.c[key] for key in same]
    defaults += list(same.values())
    columns = [table.c[key] for key in keys] + missing
    processors = [column.type.dialect_impl(dialect).bind_processor(dialect) for column in columns]
    preparer = dialect.identifier_preparer
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {preparer.format_table(table)} "
           f"({', '.join(preparer.format_column(column) for column in columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    fixed = [process(value) if process else value
             for value, process in zip(defaults, processors[len(keys):], strict=True)]
    # Column by column (zip transposes in C): most columns need no conversion at all, and a date column's
    # values repeat (every event's time, birth dates), so each distinct one is converted once.
    getter = operator.itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
    values = [_convert(column, process, memo=isinstance(table.c[key].type, Date | DateTime)) if process else column
              for key, column, process in zip(keys, zip(*map(getter, rows), strict=True), processors[:len(keys)],
                                              strict=True)]
    parameters = list(zip(*values, *([value] * len(rows) for value in fixed), strict=True))
    connection.exec_driver_sql(sql, parameters)


def _convert(column: Sequence[Any], process: Callable[[Any], Any], *, memo: bool) -> list[Any]:
    if not memo:
        return list(map(process, column))
    converted = {value: process(value) for value in set(column)}  # date and datetime values never compare equal
    return list(map(converted.__getitem__, column))
