"""`POST /v1/keyphrases` (one post: JSON, multipart or an url-encoded form) and
`POST /v1/keyphrases:batch` (JSON; a bad post fails alone, in its place in the answer).

The routes read their body themselves (to refuse it past `max_body_bytes` or `body_timeout`
and parse forms in memory, off the event loop), so their request models are published by
`mmkp.serve.openapi`. Image URLs are downloaded on their own threads (`urls.Downloads`), images
decoded on the shared ones. Failures are raised; `mmkp.serve.errors` turns them into responses.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from mmkp.decoding.config import DecodeConfig
from mmkp.inference.predictor import PredictionResult, RawPost
from mmkp.serve import decode_fields, inputs
from mmkp.serve.batcher import BatchInfo
from mmkp.serve.dependencies import BatcherDep, PredictorDep, Service, ServiceDep, model_name
from mmkp.serve.errors import ApiError, PostRefused, as_api_error, from_validation
from mmkp.serve.openapi import request_body
from mmkp.serve.schemas import (
    BatchItem,
    BatchRequest,
    BatchResponse,
    EntityOut,
    ErrorResponse,
    Keyphrase,
    KeyphraseRequest,
    KeyphraseResponse,
    OcrLineOut,
    PostIn,
    Timings,
)

router = APIRouter(
    prefix="/v1",
    responses={code: {"model": ErrorResponse} for code in (400, 408, 413, 415, 422, 503)},
)
M = TypeVar("M", bound=BaseModel)
IMAGE_FIELDS = ("image", "image_base64", "image_url")
ONE_POST_FORMS = {
    "application/json": "KeyphraseRequest",
    "multipart/form-data": "KeyphraseForm",
    "application/x-www-form-urlencoded": "KeyphraseTextForm",
}


@router.post(
    "/keyphrases",
    response_model=KeyphraseResponse,
    openapi_extra={"requestBody": request_body(ONE_POST_FORMS)},
)
async def keyphrases(
    request: Request, predictor: PredictorDep, batcher: BatcherDep, service: ServiceDep
) -> KeyphraseResponse:
    started = time.perf_counter()
    settings = service.settings
    body = await inputs.read_body(request, settings)
    upload: tuple[bytes, str] | None = None
    kind = inputs.media_type(request)
    if kind == "application/json":
        post = _parse(KeyphraseRequest, body)
    else:
        content_type = request.headers["content-type"]
        post, image = await run_in_threadpool(inputs.parse_form, body, content_type, kind, settings)
        upload = None if image is None else (image, "image")
    request.state.posts = 1
    request.state.image_field = inputs.image_field(post, upload)  # names a refused image
    raw = await _read_post(post, upload, service)
    (answer,) = batcher.submit([raw], _decode(predictor.decode, post))
    result, info = await answer
    return _response(result, info, started, model_name(predictor), post.id)


@router.post(
    "/keyphrases:batch",
    response_model=BatchResponse,
    openapi_extra={"requestBody": request_body({"application/json": "BatchRequest"})},
)
async def keyphrases_batch(
    request: Request, predictor: PredictorDep, batcher: BatcherDep, service: ServiceDep
) -> BatchResponse:
    started = time.perf_counter()
    if inputs.media_type(request) != "application/json":
        raise ApiError(415, "unsupported_media_type", "send the batch as JSON", "body")
    batch = _parse(BatchRequest, await inputs.read_body(request, service.settings))
    limit = service.settings.max_batch_posts
    if len(batch.posts) > limit:
        message = f"{len(batch.posts)} posts, over the limit of {limit} per call"
        raise ApiError(422, "too_many", message, "posts")
    request.state.posts = len(batch.posts)
    decode = _decode(predictor.decode, batch)
    raws = await asyncio.gather(
        *(_read_post(post, None, service) for post in batch.posts),
        return_exceptions=True,
    )
    good = [i for i, raw in enumerate(raws) if isinstance(raw, RawPost)]
    answers = batcher.submit([raws[i] for i in good], decode) if good else []
    decoded = dict(zip(good, await asyncio.gather(*answers, return_exceptions=True), strict=True))
    items = []
    for index, post in enumerate(batch.posts):
        outcome: Any = decoded.get(index, raws[index])
        item = BatchItem(index=index, id=post.id, result=None, error=None)
        if isinstance(outcome, ApiError | PostRefused):  # this post's own fault
            field = inputs.image_field(post, None)
            item.error = as_api_error(outcome, field).at(f"posts.{index}").body
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            item.result = _response(*outcome, started, model_name(predictor), post.id)
        items.append(item)
    return BatchResponse(results=items, model=model_name(predictor))


async def _read_post(post: PostIn, upload: tuple[bytes, str] | None, service: Service) -> RawPost:
    """The post checked and its image read (a URL downloaded first, on the downloads' own
    threads); images counted by the field they came in, refused ones by error type."""
    settings, metrics = service.settings, service.metrics
    try:
        inputs.check_text(post, settings)
        if upload is None and post.image_url is not None:
            assert service.downloads is not None  # made before the batcher the route waits for
            upload = (await service.downloads.fetch(post.image_url), "image_url")
        raw = await run_in_threadpool(inputs.raw_post, post, upload, settings)
    except ApiError as exc:
        if exc.field in IMAGE_FIELDS:
            metrics.refused.labels(exc.type).inc()
        raise
    if raw.image is not None:
        metrics.images.labels(inputs.image_field(post, upload)).inc()
    return raw


def _parse(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise from_validation(list(exc.errors())) from exc


def _decode(current: DecodeConfig, request: BaseModel) -> DecodeConfig:
    """The model's decode settings with those the request gave (its `decode_fields`)."""
    changes = request.model_dump(include=set(decode_fields.FIELDS), exclude_none=True)
    try:
        return dataclasses.replace(current, **changes) if changes else current
    except ValueError as exc:  # DecodeConfig's own checks across fields
        raise ApiError(422, "invalid", str(exc), next(iter(changes))) from exc


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
