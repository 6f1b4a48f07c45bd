"""The page at `/` (static/index.html; its script and style are mounted at /static) and the
generated example posts behind its example buttons."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from mmkp.serve.examples import examples
from mmkp.serve.schemas import Example

router = APIRouter()
PAGE = resources.files("mmkp.serve").joinpath("static/index.html").read_text("utf-8")


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
async def index() -> str:
    return PAGE


@router.get("/v1/examples", response_model=list[Example])
async def example_posts() -> tuple[Example, ...]:
    return await run_in_threadpool(examples)
