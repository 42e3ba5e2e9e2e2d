"""Cursor paging shared by the list endpoints: newest first, `next` is the last id seen."""

from typing import Any

from sqlalchemy import Select

from app.ids import parse_id

MAX_LIMIT = 500


def page(query: Select[Any], id_column: Any, *, cursor: str | None, limit: int) -> Select[Any]:
    """Restrict `query` to one page after `cursor`, fetching one extra row to detect more."""
    if cursor is not None:
        query = query.where(id_column < parse_id(cursor, "cursor"))
    return query.order_by(id_column.desc()).limit(limit + 1)


def next_cursor(ids: list[int], limit: int) -> str | None:
    """The cursor for the following page, or None on the last page."""
    return str(ids[limit - 1]) if len(ids) > limit else None
