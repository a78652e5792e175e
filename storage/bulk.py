"""Set-based writes: many rows in one statement instead of one statement per row.

DuckDB runs a statement per row of ``executemany``; a relation built from one list parameter
per column (``unnest`` of each, zipped) inserts thousands of rows in the time of one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def rows_relation(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> tuple[str, list[list]]:
    """A subquery over ``rows`` with the given (name, SQL type) columns, and its parameters.

    Use it as ``INSERT INTO t SELECT ... FROM <subquery>`` with the parameters returned.
    """
    select = ", ".join(f"unnest(?::{sql_type}[]) AS {name}" for name, sql_type in columns)
    return f"(SELECT {select})", [[row[i] for row in rows] for i in range(len(columns))]
