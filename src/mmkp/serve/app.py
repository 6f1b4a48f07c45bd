"""The FastAPI application: the routers, the model loaded once in the lifespan, the page.

    app = create_app(ServeSettings(), model_dir="runs/demo/mm-mkp/model")  # uvicorn.run(app)

Routes (`mmkp.serve.routes`, schemas in `mmkp.serve.schemas`, OpenAPI at /docs):

    POST /v1/keyphrases         one post: JSON {text, image_url?, image_base64?, top_k?,
                                beam_size?} or a form (text field + image file)
    POST /v1/keyphrases:batch   {posts: [...], top_k?, beam_size?}; a bad post fails alone
    GET  /v1/model              name, config, labels, decode settings, limits
    GET  /v1/examples           generated example posts for the page
    GET  /health/live, /health/ready
    GET  /metrics               Prometheus text format (`mmkp.serve.metrics`)
    GET  /                      the page (static/index.html, app.js, style.css)
    GET  /docs, /redoc          Swagger UI and ReDoc, their assets from the package

The routes get the predictor, the batcher and the settings from `app.state.service` through
`mmkp.serve.dependencies`; every error they raise becomes a response in `mmkp.serve.errors`.
In front of them (outermost first): the access log, the request metrics, CORS (only with
`cors_origins`), and `mmkp.serve.guard` (host, origin, API key, requests in progress).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import torch
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

from mmkp.config_loader import from_dict
from mmkp.inference.predictor import Predictor
from mmkp.serve import access_log
from mmkp.serve.access_log import AccessLog
from mmkp.serve.batcher import MicroBatcher
from mmkp.serve.dependencies import Service, model_name
from mmkp.serve.errors import install_handlers
from mmkp.serve.guard import Guard, api_key
from mmkp.serve.metrics import RequestMetrics
from mmkp.serve.openapi import with_request_models
from mmkp.serve.routes import ROUTERS, docs
from mmkp.serve.settings import ENVIRONMENT, ServeSettings
from mmkp.serve.urls import Downloads

log = logging.getLogger("mmkp.serve")


def load_predictor(model_dir: Path, settings: ServeSettings) -> Predictor:
    """The predictor on the settings' device, embedding in their MiniLM precision, with its
    featurizer loaded now, so the first image waits for nothing."""
    predictor = Predictor.load(model_dir, device=settings.device)
    predictor.use_minilm_precision(settings.minilm_precision)
    try:
        predictor.processor.featurizer()  # the one its training images went through
    except ValueError as exc:  # a model whose backbone cannot be told: text-only service
        log.warning("images cannot be read for this model: %s", exc)
    return predictor


def create_app(
    settings: ServeSettings | None = None,
    *,
    model_dir: str | Path | None = None,
    predictor: Predictor | None = None,
) -> FastAPI:
    """The app for a model directory (loaded in the lifespan on `settings.device`) or an
    already loaded predictor. ValueError when `api_key_env` names an unset variable."""
    if (model_dir is None) == (predictor is None):
        raise ValueError("create_app needs exactly one of model_dir and predictor")
    service = Service(settings or ServeSettings(), None if model_dir is None else Path(model_dir))
    service.predictor = predictor

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        s = service.settings
        if service.predictor is None:
            assert service.model_dir is not None
            service.predictor = await run_in_threadpool(load_predictor, service.model_dir, s)
        service.downloads = Downloads(s, service.metrics.fetched.inc)
        service.batcher = MicroBatcher(
            service.predictor,
            max_posts=s.batch_max_posts,
            wait_s=s.batch_wait_ms / 1000,
            max_queue=s.max_queue_posts,
            metrics=service.metrics,
        )
        service.batcher.start()
        where = service.model_dir or "in memory"
        log.info("serving %s (%s) on %s", model_name(service.predictor), where, s.device)
        try:
            yield
        finally:  # after uvicorn has let the in-flight requests finish
            await run_in_threadpool(service.batcher.close, s.shutdown_timeout)

    app = FastAPI(
        title="mmkp",
        summary="Multi-modal keyphrase generation (MM-MKP): keyphrases for text + image posts",
        version="1",
        lifespan=lifespan,
        docs_url=None,  # mmkp.serve.routes.docs serves them without a CDN
        redoc_url=None,
    )
    app.state.service = service
    install_handlers(app)
    s = service.settings
    # Added first: the innermost, next to the routes. The key is read now, so that a missing
    # one stops `mmkp serve` at startup.
    app.add_middleware(Guard, settings=s, key=api_key(s))
    if s.origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(s.origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "Authorization", "X-API-Key", "X-Request-ID"],
            expose_headers=["X-Request-ID", "Retry-After"],
        )
    app.add_middleware(RequestMetrics, metrics=service.metrics)
    app.add_middleware(AccessLog)
    for router in ROUTERS:
        app.include_router(router)
    with_request_models(app)
    app.mount("/static", StaticFiles(packages=[("mmkp.serve", "static")]), name="static")
    app.mount(docs.ASSETS, docs.assets(), name="docs-assets")
    return app


def app_from_environment() -> FastAPI:
    """The app `mmkp serve` runs (an import string, so that uvicorn can start workers):
    model folder, settings and torch threads come in the MMKP_SERVE variable as JSON."""
    raw = json.loads(os.environ[ENVIRONMENT])
    if raw.get("threads"):
        torch.set_num_threads(int(raw["threads"]))
    access_log.configure()
    settings = from_dict(ServeSettings, raw["settings"], source=ENVIRONMENT)
    return create_app(settings, model_dir=raw["model"])
