"""Keyset (cursor) pagination shared by every list route.

A cursor encodes the sort values of the last row returned, so pages stay stable when
rows are inserted (unlike OFFSET) and each page is one indexed range scan.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from sqlalchemy import Select, and_, false, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from polypost.core.errors import BadRequest

T = TypeVar("T")

DEFAULT_LIMIT = 25
MAX_LIMIT = 100


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1-100.")] = (
        DEFAULT_LIMIT
    ),
    cursor: Annotated[
        str | None, Query(max_length=512, description="`nextCursor` of the previous page.")
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def _encode(values: list[Any]) -> str:
    raw = json.dumps(
        [v.isoformat() if isinstance(v, datetime) else v for v in values], separators=(",", ":")
    )
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str, columns: Sequence[InstrumentedAttribute[Any]]) -> list[Any]:
    """The cursor's sort values, each checked against its column: cursors come from
    clients, and a value of the wrong type would otherwise reach the database (a 500)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(columns):
            raise ValueError("wrong length")
        return [_typed(v, c) for v, c in zip(values, columns, strict=True)]
    except (ValueError, TypeError) as exc:
        raise BadRequest(
            "Invalid cursor.", details={"fields": [{"field": "cursor", "message": "invalid"}]}
        ) from exc


def _typed(value: Any, column: InstrumentedAttribute[Any]) -> Any:
    if value is None:
        if not column.nullable:
            raise ValueError(f"{column.key} cannot be null")
        return None
    expected = _python_type(column)
    if expected is datetime:
        if not isinstance(value, str):
            raise TypeError(f"{column.key} must be a timestamp")
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError(f"{column.key} must carry an offset")
        return parsed
    if expected is not None and (not isinstance(value, expected) or isinstance(value, bool)):
        raise TypeError(f"{column.key} must be {expected.__name__}")
    return value


def _python_type(column: InstrumentedAttribute[Any]) -> type[Any] | None:
    try:
        python_type: type[Any] = column.type.python_type
    except NotImplementedError:
        return None
    return python_type if python_type in (datetime, str, int, float) else None


async def paginate(
    session: AsyncSession,
    statement: Select[Any],
    order_by: Sequence[InstrumentedAttribute[Any]],
    params: PageParams,
    *,
    descending: bool = False,
) -> Page[Any]:
    """Run `statement` ordered by `order_by` (last column unique, non-null) for one page.

    Nullable leading sort columns are supported: NULLs sort last in both directions.
    """
    if params.cursor:
        values = _decode(params.cursor, order_by)
        statement = statement.where(_after(order_by, values, descending))
    ordering: list[Any] = []
    for column in order_by:
        ordering.append(column.is_(None))  # NULLs last, portably
        ordering.append(column.desc() if descending else column.asc())
    rows = (await session.execute(statement.order_by(*ordering).limit(params.limit + 1))).scalars()
    items = list(rows)
    next_cursor = None
    if len(items) > params.limit:
        items = items[: params.limit]
        last = items[-1]
        next_cursor = _encode([getattr(last, c.key) for c in order_by])
    return Page(items=items, next_cursor=next_cursor)


def _after(
    columns: Sequence[InstrumentedAttribute[Any]], values: list[Any], descending: bool
) -> Any:
    """Rows strictly after `values` in (NULLs-last, column) order."""
    column, value = columns[0], values[0]
    rest = _after(columns[1:], values[1:], descending) if len(columns) > 1 else None
    if value is None:
        # Already in the NULL tail: only later rows of the tail remain.
        return and_(column.is_(None), rest) if rest is not None else false()
    beyond = column < value if descending else column > value
    strictly = or_(beyond, column.is_(None))
    if rest is None:
        return strictly
    return or_(strictly, and_(column == value, rest))
