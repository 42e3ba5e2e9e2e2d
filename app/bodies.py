"""The one bounded reader every request body goes through (webhooks, callbacks, forms, API).

A body is refused (413) as soon as it passes its limit: by its Content-Length before a byte is
read, or mid-stream (chunked) without holding more than the limit. Handlers call these after
their authentication dependencies ran, so an anonymous caller's body is never read at all.
"""

import json
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.types import Message, Receive

from app.errors import TooLarge
from app.ingest.base import ParseError

M = TypeVar("M", bound=BaseModel)


def _declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length", "")
    return int(declared) if declared.isascii() and declared.isdigit() else None


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing (413) past `limit` bytes without holding more than that."""
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise TooLarge(f"body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


_MISSING = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}


async def read_json(request: Request, model: type[M], limit: int) -> M:
    """A JSON body as `model`: 400 when it is not JSON, 422 naming the field when it has the
    wrong shape (or is missing), 413 past `limit`."""
    found = await read_optional_json(request, model, limit)
    if found is None:
        raise RequestValidationError([_MISSING])
    return found


async def read_optional_json(request: Request, model: type[M], limit: int) -> M | None:
    """Like `read_json`, but an empty body is None."""
    body = await read_body(request, limit)
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"not JSON: {exc}") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # FastAPI's own shape: the location starts at "body", as its Body() params said.
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors) from None


def json_body_openapi(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """`openapi_extra` declaring `model` as the JSON request body of a route that reads its
    body itself (nested models inlined: the schema names no components)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": required,
            "content": {"application/json": {"schema": _inlined(schema, definitions)}},
        }
    }


def _inlined(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inlined(definitions[ref.removeprefix("#/$defs/")], definitions)
        return {key: _inlined(value, definitions) for key, value in node.items()}
    if isinstance(node, list):
        return [_inlined(item, definitions) for item in node]
    return node


def capped(receive: Receive, limit: int) -> Receive:
    """`receive` that refuses (TooLarge) a body past `limit` bytes, whoever reads it: the guard
    under every route, should one ever read its body some other way than `read_body`."""
    seen = 0

    async def receive_capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise TooLarge(f"body exceeds the limit of {limit} bytes")
        return message

    return receive_capped
