"""`GET /docs` (Swagger UI) and `GET /redoc` (ReDoc) that work without internet: their scripts,
style and icon come from the package `fastapi-offline` (pinned in the `serve` extra; it bundles
Swagger UI, Apache-2.0, and ReDoc, MIT), mounted at /docs-assets, instead of a CDN."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

router = APIRouter(include_in_schema=False)
ASSETS = "/docs-assets"
OPENAPI = "/openapi.json"


def assets() -> StaticFiles:
    """The bundled Swagger UI and ReDoc files, for `app.mount(ASSETS, ...)`."""
    return StaticFiles(packages=[("fastapi_offline", "static")])


@router.get("/docs")
async def swagger() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url=OPENAPI,
        title="mmkp - Swagger UI",
        swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS}/favicon.png",
        oauth2_redirect_url="/docs/oauth2-redirect",
        swagger_ui_parameters={"validatorUrl": None},  # no call to an online validator
    )


@router.get("/docs/oauth2-redirect")
async def oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url=OPENAPI,
        title="mmkp - ReDoc",
        redoc_js_url=f"{ASSETS}/redoc.standalone.js",
        redoc_favicon_url=f"{ASSETS}/favicon.png",
        with_google_fonts=False,
    )
