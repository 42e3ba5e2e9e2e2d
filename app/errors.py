"""Domain errors: what services raise when a request cannot be served (never HTTPException).

Each names its HTTP `status` and a short `reason`; `app.api.errors` turns them into answers.
"""


class AppError(Exception):
    """Base of every error we answer on purpose; `status` and `reason` say how."""

    status = 500
    reason = "internal"

    def __init__(self, message: str, *, detail: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class Unauthorized(AppError):
    """No credentials, or credentials we do not know."""

    status, reason = 401, "unauthorized"


class Forbidden(AppError):
    """Credentials we know, but not for this (or a bad provider signature)."""

    status, reason = 403, "forbidden"


class NotFound(AppError):
    """No such resource (or not one this caller may see)."""

    status, reason = 404, "not_found"


class TooLarge(AppError):
    """Body over MAX_BODY_BYTES."""

    status, reason = 413, "too_large"


class Conflict(AppError):
    """The request cannot apply to the resource's current state."""

    status, reason = 409, "conflict"


class StoreUnavailable(AppError):
    """The database did not take the write in time: the sender should retry."""

    status, reason = 503, "store_unavailable"


class RowRejected(AppError):
    """The database refused this request's data (e.g. a value too long for its column)."""

    status, reason = 422, "unstorable"
