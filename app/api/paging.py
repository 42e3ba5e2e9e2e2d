"""Cursor paging shared by the list endpoints: newest first, `next` is the last id seen."""

from typing import Any

from sqlalchemy import Select

from app.errors import AppError

MAX_LIMIT = 500
MAX_ID = 2**63 - 1  # the largest id any of our tables can hold


class BadCursor(AppError):
    """A `cursor` that is not one we handed out."""

    status, reason = 422, "schema"


def page(query: Select[Any], id_column: Any, *, cursor: str | None, limit: int) -> Select[Any]:
    """Restrict `query` to one page after `cursor`, fetching one extra row to detect more."""
    if cursor is not None:
        if not cursor.isdigit() or int(cursor) > MAX_ID:
            raise BadCursor("invalid cursor", detail={"field": "cursor"})
        query = query.where(id_column < int(cursor))
    return query.order_by(id_column.desc()).limit(limit + 1)


def next_cursor(ids: list[int], limit: int) -> str | None:
    """The cursor for the following page, or None on the last page."""
    return str(ids[limit - 1]) if len(ids) > limit else None
