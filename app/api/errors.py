"""The one table that maps domain errors (and parser and validation errors) to HTTP answers.

`install_error_handlers` turns each into a status code and a JSON body
`{"error": ..., "detail": ...}`, and counts it as a rejection. PagerDuty's endpoints answer in
PagerDuty's own shape instead (`InvalidEvent`), so its SDKs raise their usual error.
"""

from collections.abc import Awaitable, Callable
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import AppError, StoreUnavailable
from app.ingest.base import ParseError, SchemaError
from app.ingest.common import Rejected
from app.ingest.sns_certs import SnsCertUnavailable
from app.paging.signatures import SignatureError, StaleTimestamp

# (request, reason, status, detail): detail is what the answer says, never a credential.
RejectHook = Callable[[Request, str, int, str], None]


class InvalidEvent(Exception):
    """A refused PagerDuty event: 400 `{"status": "invalid event", "message", "errors"}`, the
    answer PagerDuty gives for a malformed event and for an unknown routing key alike."""

    def __init__(self, reason: str, message: str, errors: list[str]) -> None:
        super().__init__(message)
        self.reason, self.message, self.errors = reason, message, errors


def error_body(error: str, detail: object) -> dict[str, object]:
    """The JSON shape of every error answer."""
    return {"error": error, "detail": detail}


def install_error_handlers(app: FastAPI, on_reject: RejectHook) -> None:
    """Map AppError, parser errors and FastAPI's validation errors to clear 4xx/503 answers."""

    async def app_error(request: Request, exc: Exception) -> Response:
        exc = cast(AppError, exc)
        on_reject(request, exc.reason, exc.status, exc.message)
        headers = {"Retry-After": "5"} if isinstance(exc, StoreUnavailable) else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": 'Bearer realm="skillpager"'}
        return JSONResponse(error_body(exc.message, exc.detail), exc.status, headers=headers)

    async def parse_error(request: Request, exc: Exception) -> Response:
        on_reject(request, "malformed", 400, str(exc))
        return JSONResponse(error_body("malformed request body", str(exc)), 400)

    async def schema_error(request: Request, exc: Exception) -> Response:
        exc = cast(SchemaError, exc)
        on_reject(request, "schema", 422, f"{exc.field}: {exc.message}")
        detail = {"field": exc.field, "message": exc.message}
        return JSONResponse(error_body(f"invalid field {exc.field}", detail), 422)

    async def validation_error(request: Request, exc: Exception) -> Response:
        exc = cast(RequestValidationError, exc)
        errors = exc.errors()
        fields = [".".join(str(p) for p in err["loc"]) for err in errors]
        first = f"{fields[0]}: {errors[0]['msg']}" if errors else "invalid request"
        on_reject(request, "schema", 422, first)
        # Only the JSON-safe parts: a validator's own exception in `ctx` is not serialisable.
        detail = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors[:5]]
        return JSONResponse(error_body("invalid request", detail) | {"fields": fields}, 422)

    async def http_error(request: Request, exc: Exception) -> Response:
        exc = cast(StarletteHTTPException, exc)
        on_reject(request, str(exc.status_code), exc.status_code, str(exc.detail))
        return JSONResponse(error_body(str(exc.detail), None), exc.status_code, headers=exc.headers)

    async def rejected(request: Request, exc: Exception) -> Response:
        exc = cast(Rejected, exc)
        on_reject(request, "bad_signature", 403, str(exc.reason))
        return JSONResponse(error_body("request not authenticated", exc.reason), 403)

    async def bad_signature(request: Request, exc: Exception) -> Response:
        # A stale (replayed) timestamp is an authentication failure; a wrong signature forbidden.
        status = 401 if isinstance(exc, StaleTimestamp) else 403
        on_reject(request, "bad_signature", status, str(exc))
        return JSONResponse(error_body("request signature rejected", str(exc)), status)

    async def out_of_range(request: Request, exc: Exception) -> Response:
        # An id or number beyond what the database stores (e.g. 2**64 in a path): no such thing.
        on_reject(request, "schema", 422, "a number is out of range")
        return JSONResponse(error_body("a number is out of range", str(exc)[:200]), 422)

    async def invalid_event(request: Request, exc: Exception) -> Response:
        exc = cast(InvalidEvent, exc)
        on_reject(request, exc.reason, 400, "; ".join(exc.errors))
        body = {"status": "invalid event", "message": exc.message, "errors": exc.errors}
        return JSONResponse(body, 400)

    async def unavailable(request: Request, exc: Exception) -> Response:
        on_reject(request, "upstream_unavailable", 503, str(exc))
        return JSONResponse(error_body(str(exc), None), 503, headers={"Retry-After": "30"})

    handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
        AppError: app_error,
        Rejected: rejected,
        InvalidEvent: invalid_event,
        SignatureError: bad_signature,
        OverflowError: out_of_range,
        DataError: out_of_range,  # PostgreSQL's answer to the same (e.g. out of int8 range)
        SnsCertUnavailable: unavailable,
        ParseError: parse_error,
        SchemaError: schema_error,
        RequestValidationError: validation_error,
        StarletteHTTPException: http_error,
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)


_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "detail": {},
        "fields": {"type": "array", "items": {"type": "string"}},
    },
}


def declare_error_answers(app: FastAPI) -> None:
    """Make the OpenAPI schema say what our 422s really are: `{"error", "detail"}`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schema.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR_SCHEMA
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                answer = operation.get("responses", {}).get("422")
                if answer is not None:
                    answer["description"] = "Invalid request (the field is named)"
                    ref = {"$ref": "#/components/schemas/Error"}
                    answer["content"] = {"application/json": {"schema": ref}}
        schema["components"]["schemas"].pop("HTTPValidationError", None)
        schema["components"]["schemas"].pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
