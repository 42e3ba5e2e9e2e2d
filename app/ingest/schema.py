"""Pydantic-backed body decoding that turns validation problems into our error types."""

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from app.ingest.base import ParseError, SchemaError
from app.ingest.clean import surrogates_as_nul

ModelT = TypeVar("ModelT", bound=BaseModel)


def decode(model: type[ModelT], body: bytes) -> ModelT:
    """Validate `body` as JSON into `model`: bad JSON → ParseError, bad shape → SchemaError."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        error = _translate(exc)
        if not isinstance(error, ParseError) or b"\\u" not in body:
            raise error from exc
    # pydantic refuses unpaired surrogate escapes (`\ud800`), which JSON allows and the stdlib
    # reads: read such a body that way; the writer cleans its text like every alert's.
    try:
        decoded = surrogates_as_nul(json.loads(body))
    except (ValueError, RecursionError):
        raise error from None
    try:
        return model.model_validate(decoded)
    except ValidationError as exc:
        raise _translate(exc) from exc


def _translate(exc: ValidationError) -> ParseError | SchemaError:
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return ParseError(f"malformed JSON: {first['ctx'].get('error', first['msg'])}")
    if first["type"] == "json_type":
        return ParseError("malformed JSON: body must be a JSON object or array")
    path = _field_path(first["loc"])
    return SchemaError(path or "body", first["msg"].lower())


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part not in _UNION_TAGS:
            path += f".{part}" if path else str(part)
    return path


# pydantic adds the union member's type name to error locations; they are noise for users.
_UNION_TAGS = frozenset({"list[GenericAlert]", "GenericAlert", "function-after[_one_or_many()]"})
