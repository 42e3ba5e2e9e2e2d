"""The one strict reading of ids that come from outside: path params, cursors, form fields.

An id is 1 to 19 ASCII digits whose value fits a signed 63-bit integer (every id column is a
BIGINT). `str.isdigit` and `int()` alone are too lenient: `isdigit` accepts superscripts
(`²`), `int()` accepts other scripts' digits (`١٢`), signs, spaces and underscores (`1_0`), and
a value past 2**63 - 1 fails in the database driver (a 500 on PostgreSQL) instead of here.
"""

import re
from typing import Annotated, Any

from fastapi import Path
from pydantic import BeforeValidator
from pydantic_core import PydanticCustomError

from app.errors import AppError

MAX_ID = 2**63 - 1  # the largest value a BIGINT id column holds
_ASCII_ID = re.compile(r"[0-9]{1,19}")


class BadId(AppError):
    """An id field that is not 1-19 ASCII digits within range: 422 naming the field."""

    status, reason = 422, "schema"


def strict_id(text: str) -> int | None:
    """The id `text` spells, or None when it is not ASCII digits within range."""
    if not _ASCII_ID.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def parse_id(text: str, field: str) -> int:
    """The id `text` spells; BadId (422, naming `field`) otherwise."""
    value = strict_id(text)
    if value is None:
        raise BadId(
            f"invalid {field}: an id is ASCII digits, at most {MAX_ID}",
            detail={"field": field, "value": text[:40]},
        )
    return value


def _id_before(value: Any) -> Any:
    # Path parameters arrive as text; anything else (a test passing an int) is checked too.
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) else ""
    found = strict_id(text)
    if found is None:
        raise PydanticCustomError("id", f"an id is ASCII digits, at most {MAX_ID}")
    return found


# A path parameter holding an id: `incident_id: IdPath`. Invalid ids are FastAPI validation
# errors (422 with the parameter named in `loc`), never a driver error.
IdPath = Annotated[int, BeforeValidator(_id_before), Path(ge=0, le=MAX_ID)]
