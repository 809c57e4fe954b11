"""Domain errors. One handler maps them to HTTP answers (engage/api_errors.py)
and the protocol modules map them to error frames."""

from __future__ import annotations


class ParleyError(Exception):
    """Base of every domain error: a stable code, a message and an HTTP status."""

    code = "error"
    status = 400

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.__class__.__doc__ or self.code)
        self.message = message or (self.__class__.__doc__ or self.code).strip()
        if code:
            self.code = code


class NotFound(ParleyError):
    """Not found."""

    code = "not_found"
    status = 404


class PermissionDenied(ParleyError):
    """You may not do that."""

    code = "permission_denied"
    status = 403


class InvalidInput(ParleyError):
    """The input is invalid."""

    code = "invalid_input"
    status = 400


class Conflict(ParleyError):
    """The request conflicts with the current state."""

    code = "conflict"
    status = 409
