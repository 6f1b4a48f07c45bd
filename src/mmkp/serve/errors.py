"""Every failure as a JSON error `{"error": {"type", "field", "message"}}` with a 4xx (or 5xx
for the server's own faults), never an HTML page or a bare traceback."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from mmkp.serve.schemas import ErrorBody

log = logging.getLogger("mmkp.serve")


class ApiError(Exception):
    """A request the service refuses: HTTP status, error type, the field at fault, why."""

    def __init__(
        self,
        status: int,
        type: str,
        message: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.type = type
        self.field = field
        self.message = message
        self.headers = headers

    @property
    def body(self) -> ErrorBody:
        return ErrorBody(type=self.type, field=self.field, message=self.message)

    def at(self, prefix: str) -> ApiError:
        """The same error for a field inside a list item, e.g. `posts.2.text`."""
        field = prefix if self.field is None else f"{prefix}.{self.field}"
        return ApiError(self.status, self.type, self.message, field, self.headers)


def from_validation(errors: list[Any], prefix: str | None = None) -> ApiError:
    """Pydantic's first error as an ApiError: malformed JSON is 400, the rest 422."""
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    field = ".".join([*([prefix] if prefix else []), *loc]) or prefix or "body"
    if first.get("type") == "json_invalid":
        reason = first.get("ctx", {}).get("error", "invalid JSON")
        return ApiError(400, "malformed_json", f"the body is not valid JSON: {reason}", "body")
    if first.get("type") == "model_attributes_type" and not loc:
        return ApiError(422, "invalid", "the body must be a JSON object", "body")
    return ApiError(422, "invalid", f"{field}: {first.get('msg', 'invalid value')}", field)


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        {"error": error.body.model_dump()}, status_code=error.status, headers=error.headers
    )


def install_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc)

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError | ValidationError)
        return error_response(from_validation(list(exc.errors())))

    async def http(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        return error_response(ApiError(exc.status_code, kind, str(exc.detail), None, exc.headers))

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error_response(ApiError(500, "internal", f"internal error: {type(exc).__name__}"))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(ValidationError, validation)
    app.add_exception_handler(HTTPException, http)
    app.add_exception_handler(Exception, unexpected)
