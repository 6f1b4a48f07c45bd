"""The FastAPI application: routes, the model loaded once in the lifespan, the page at `/`.

    app = create_app(ServeSettings(), model_dir="runs/demo/mm-mkp/model")  # uvicorn.run(app)

Routes (schemas in `mmkp.serve.schemas`, OpenAPI at /docs and /openapi.json):

    POST /v1/keyphrases         one post: JSON {text, image_url?, image_base64?, top_k?,
                                beam_size?} or multipart (text field + image file)
    POST /v1/keyphrases:batch   {posts: [...], top_k?, beam_size?}; a bad post fails alone
    GET  /v1/model              name, config, labels, decode settings, limits
    GET  /v1/examples           generated example posts for the page
    GET  /health/live, /health/ready
    GET  /                      the page (static/index.html, app.js, style.css)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import torch
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from mmkp.config_loader import from_dict, to_dict
from mmkp.decoding.config import DecodeConfig
from mmkp.features.featurizer import ImageFeaturizer
from mmkp.inference.predictor import (
    PredictionResult,
    Predictor,
    RawPost,
    featurizer_config,
)
from mmkp.serve import access_log, inputs
from mmkp.serve.access_log import AccessLog
from mmkp.serve.batcher import BatchInfo, MicroBatcher
from mmkp.serve.errors import ApiError, from_validation, install_handlers
from mmkp.serve.examples import examples
from mmkp.serve.openapi import request_body, with_request_models
from mmkp.serve.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    DecodeOverrides,
    EntityOut,
    ErrorResponse,
    Example,
    Health,
    Keyphrase,
    KeyphraseRequest,
    KeyphraseResponse,
    ModelInfo,
    OcrLineOut,
    Timings,
)
from mmkp.serve.settings import ENVIRONMENT, ServeSettings

log = logging.getLogger("mmkp.serve")
M = TypeVar("M", bound=BaseModel)
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 413, 415, 422, 503)
}


@dataclass
class Service:
    """What the routes share: the settings, and once started the predictor and its batcher."""

    settings: ServeSettings
    model_dir: Path | None
    predictor: Predictor | None = None
    batcher: MicroBatcher | None = None

    @property
    def model_name(self) -> str:
        assert self.predictor is not None
        return self.predictor.checkpoint.config.model.name

    def ready(self) -> tuple[Predictor, MicroBatcher]:
        if self.predictor is None or self.batcher is None:
            raise ApiError(
                503, "not_ready", "the model is still loading", None, {"Retry-After": "1"}
            )
        return self.predictor, self.batcher


def load_predictor(model_dir: Path) -> Predictor:
    """The predictor with its featurizer loaded now, so the first image waits for nothing."""
    predictor = Predictor.load(model_dir)
    try:
        predictor.featurizer = ImageFeaturizer(featurizer_config(predictor.checkpoint))
    except ValueError as exc:  # a model whose backbone cannot be told: text-only service
        log.warning("images cannot be read for this model: %s", exc)
    return predictor


def create_app(
    settings: ServeSettings | None = None,
    *,
    model_dir: str | Path | None = None,
    predictor: Predictor | None = None,
) -> FastAPI:
    """The app for a model directory (loaded in the lifespan) or an already loaded predictor."""
    if (model_dir is None) == (predictor is None):
        raise ValueError("create_app needs exactly one of model_dir and predictor")
    service = Service(settings or ServeSettings(), None if model_dir is None else Path(model_dir))
    service.predictor = predictor

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if service.predictor is None:
            assert service.model_dir is not None
            service.predictor = await run_in_threadpool(load_predictor, service.model_dir)
        s = service.settings
        service.batcher = MicroBatcher(
            service.predictor,
            max_posts=s.batch_max_posts,
            wait_s=s.batch_wait_ms / 1000,
            max_queue=s.max_queue_posts,
        )
        service.batcher.start()
        log.info("serving %s (%s)", service.model_name, service.model_dir or "in memory")
        try:
            yield
        finally:  # after uvicorn has let the in-flight requests finish
            await run_in_threadpool(service.batcher.close, s.shutdown_timeout)

    app = FastAPI(
        title="mmkp",
        summary="Multi-modal keyphrase generation (MM-MKP): keyphrases for text + image posts",
        version="1",
        lifespan=lifespan,
    )
    app.state.service = service
    install_handlers(app)
    app.add_middleware(AccessLog)
    _add_routes(app, service)
    with_request_models(app)
    app.mount("/static", StaticFiles(packages=[("mmkp.serve", "static")]), name="static")
    return app


def _add_routes(app: FastAPI, service: Service) -> None:
    page = resources.files("mmkp.serve").joinpath("static/index.html").read_text("utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> str:
        return page

    @app.get("/health/live", response_model=Health)
    async def live() -> Health:
        return Health(status="alive")

    @app.get("/health/ready", response_model=Health, responses={503: {"model": ErrorResponse}})
    async def ready() -> Health:
        service.ready()
        return Health(status="ready")

    @app.get("/v1/model", response_model=ModelInfo, responses={503: {"model": ErrorResponse}})
    async def model() -> ModelInfo:
        predictor, _ = service.ready()
        checkpoint = predictor.checkpoint
        return ModelInfo(
            name=service.model_name,
            directory=None if service.model_dir is None else str(service.model_dir),
            uses_image=predictor.uses_image,
            vocab_size=len(checkpoint.vocab),
            labels=len(checkpoint.labels),
            backbone=checkpoint.config.backbone,
            config=to_dict(checkpoint.config.model),
            decode=to_dict(predictor.decode),
            limits=dataclasses.asdict(service.settings),
        )

    @app.get("/v1/examples", response_model=list[Example])
    async def example_posts() -> tuple[Example, ...]:
        return await run_in_threadpool(examples)

    @app.post(
        "/v1/keyphrases",
        response_model=KeyphraseResponse,
        responses=ERRORS,
        openapi_extra={
            "requestBody": request_body(
                {
                    "application/json": "KeyphraseRequest",
                    "multipart/form-data": "KeyphraseForm",
                    "application/x-www-form-urlencoded": "KeyphraseTextForm",
                }
            )
        },
    )
    async def keyphrases(request: Request) -> KeyphraseResponse:
        started = time.perf_counter()
        predictor, batcher = service.ready()
        body = await inputs.read_body(request, service.settings)
        image: tuple[bytes, str] | None = None
        kind = inputs.media_type(request)
        if kind == "application/json":
            post = _parse(KeyphraseRequest, body)
        else:
            post, upload = inputs.parse_form(body, request.headers["content-type"], kind)
            image = None if upload is None else (upload, "image")
        request.state.posts = 1
        raw = await run_in_threadpool(inputs.raw_post, post, image, service.settings)
        ((outcome, info),) = await batcher.submit([raw], _decode(predictor, post))
        if isinstance(outcome, ValueError):  # the text was checked: the image failed
            raise ApiError(422, "invalid", str(outcome), inputs.image_field(post, image))
        return _response(outcome, info, started, service.model_name, post.id)

    @app.post(
        "/v1/keyphrases:batch",
        response_model=BatchResponse,
        responses=ERRORS,
        openapi_extra={"requestBody": request_body({"application/json": "BatchRequest"})},
    )
    async def keyphrases_batch(request: Request) -> BatchResponse:
        started = time.perf_counter()
        predictor, batcher = service.ready()
        if inputs.media_type(request) != "application/json":
            raise ApiError(415, "unsupported_media_type", "send the batch as JSON", "body")
        batch = _parse(BatchRequest, await inputs.read_body(request, service.settings))
        limit = service.settings.max_batch_posts
        if len(batch.posts) > limit:
            message = f"{len(batch.posts)} posts, over the limit of {limit} per call"
            raise ApiError(422, "too_many", message, "posts")
        request.state.posts = len(batch.posts)
        raws = await asyncio.gather(
            *(
                run_in_threadpool(inputs.raw_or_error, post, service.settings)
                for post in batch.posts
            )
        )
        good = [raw for raw in raws if isinstance(raw, RawPost)]
        decoded = iter(await batcher.submit(good, _decode(predictor, batch)) if good else [])
        items = []
        for index, (post, raw) in enumerate(zip(batch.posts, raws, strict=True)):
            item = BatchItem(index=index, id=post.id, result=None, error=None)
            outcome = raw if isinstance(raw, ApiError) else next(decoded)
            if isinstance(outcome, ApiError):
                item.error = outcome.at(f"posts.{index}").body
            elif isinstance(outcome[0], ValueError):
                field = f"posts.{index}.{inputs.image_field(post, None)}"
                item.error = ApiError(422, "invalid", str(outcome[0]), field).body
            else:
                item.result = _response(*outcome, started, service.model_name, post.id)
            items.append(item)
        return BatchResponse(results=items, model=service.model_name)


def _parse(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise from_validation(list(exc.errors())) from exc


def _decode(predictor: Predictor, overrides: DecodeOverrides) -> DecodeConfig:
    changes = {k: v for k, v in overrides.model_dump(include={"top_k", "beam_size"}).items() if v}
    return dataclasses.replace(predictor.decode, **changes) if changes else predictor.decode


def _response(
    result: PredictionResult, info: BatchInfo, started: float, model: str, post_id: str | None
) -> KeyphraseResponse:
    regions = result.regions
    return KeyphraseResponse(
        id=post_id,
        keyphrases=[Keyphrase(text=kp.text, score=kp.score) for kp in result.keyphrases],
        match_score=result.match_score,
        regions=None if regions is None else regions.tolist(),
        ocr=[OcrLineOut(**line.to_json()) for line in result.ocr],
        entities=[EntityOut(name=e.name, score=e.score) for e in result.entities],
        text=result.post.text,
        ocr_text=result.post.ocr,
        model=model,
        timings=Timings(
            queue_ms=info.queue_s * 1000,
            featurize_ms=info.featurize_s * 1000,
            decode_ms=info.decode_s * 1000,
            total_ms=(time.perf_counter() - started) * 1000,
            batch_posts=info.batch_posts,
        ),
    )


def app_from_environment() -> FastAPI:
    """The app `mmkp serve` runs (an import string, so that uvicorn can start workers):
    model folder, settings and torch threads come in the MMKP_SERVE variable as JSON."""
    raw = json.loads(os.environ[ENVIRONMENT])
    if raw.get("threads"):
        torch.set_num_threads(int(raw["threads"]))
    access_log.configure()
    settings = from_dict(ServeSettings, raw["settings"], source=ENVIRONMENT)
    return create_app(settings, model_dir=raw["model"])
