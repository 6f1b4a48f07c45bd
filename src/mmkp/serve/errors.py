"""Every failure as a JSON error `{"error": {"type", "field", "message"}}` with a 4xx (or 5xx
for the server's own faults), never an HTML page or a bare traceback.

Routes, inputs and the batcher raise; `as_api_error` is the one mapping from an exception to
its status and body, used by the handlers `install_handlers` registers and by the batch route
for each post that fails alone.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from mmkp.features.images import ImageError
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


class PostRefused(Exception):
    """The predictor refused a post (`Predictor.load_post`, in the batcher): its text has no
    word after normalisation, or (an ImageError caused it) its image cannot be read."""

    def __init__(self, cause: ValueError):
        super().__init__(str(cause))
        self.image = isinstance(cause.__cause__, ImageError)

    def error(self, image_field: str | None) -> ApiError:
        if self.image:
            return ApiError(422, "invalid", str(self), image_field)
        return ApiError(422, "no_words", str(self), "text")


def as_api_error(exc: Exception, image_field: str | None = None) -> ApiError:
    """The error response for `exc`; `image_field` is the field the post's image came in."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, PostRefused):
        return exc.error(image_field)
    if isinstance(exc, RequestValidationError | ValidationError):
        return from_validation(list(exc.errors()))
    if isinstance(exc, HTTPException):
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        return ApiError(exc.status_code, kind, str(exc.detail), None, exc.headers)
    return ApiError(500, "internal", f"internal error: {type(exc).__name__}")


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(
        {"error": error.body.model_dump()}, status_code=error.status, headers=error.headers
    )


def install_handlers(app: FastAPI) -> None:
    """One handler for every exception: `as_api_error` with the image field the route noted
    in `request.state.image_field` (a refused image names the field it came in)."""

    async def handle(request: Request, exc: Exception) -> JSONResponse:
        error = as_api_error(exc, getattr(request.state, "image_field", None))
        if error.type == "internal":
            log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return error_response(error)

    # Starlette sends `Exception` (the server's own faults, 500) to its outermost middleware
    # and every other class to its exception middleware: both are registered.
    for kind in (ApiError, PostRefused, RequestValidationError, ValidationError, HTTPException):
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(Exception, handle)
