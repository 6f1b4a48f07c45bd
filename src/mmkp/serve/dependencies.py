"""What the routes share, from `app.state.service`, as FastAPI dependencies.

    async def route(predictor: PredictorDep, batcher: BatcherDep, settings: SettingsDep): ...

`PredictorDep` and `BatcherDep` answer 503 (`not_ready`, Retry-After) until the lifespan has
loaded the model, so a route that needs the model never sees it missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request

from mmkp.inference.predictor import Predictor
from mmkp.serve.batcher import MicroBatcher
from mmkp.serve.errors import ApiError
from mmkp.serve.metrics import Metrics
from mmkp.serve.settings import ServeSettings
from mmkp.serve.urls import Downloads


@dataclass
class Service:
    """The app's state: the settings, the metrics, and once the lifespan has started, the
    predictor, its batcher and the image downloads (`app.state.service`)."""

    settings: ServeSettings
    model_dir: Path | None
    predictor: Predictor | None = None
    batcher: MicroBatcher | None = None
    downloads: Downloads | None = None
    metrics: Metrics = field(default_factory=Metrics)


def service(request: Request) -> Service:
    return request.app.state.service  # type: ignore[no-any-return]


def settings(request: Request) -> ServeSettings:
    return service(request).settings


def predictor(request: Request) -> Predictor:
    loaded = service(request).predictor
    if loaded is None:
        raise _not_ready()
    return loaded


def batcher(request: Request) -> MicroBatcher:
    started = service(request).batcher
    if started is None:
        raise _not_ready()
    return started


def _not_ready() -> ApiError:
    return ApiError(503, "not_ready", "the model is still loading", None, {"Retry-After": "1"})


def model_name(predictor: Predictor) -> str:
    return predictor.checkpoint.config.model.name


ServiceDep = Annotated[Service, Depends(service)]
SettingsDep = Annotated[ServeSettings, Depends(settings)]
PredictorDep = Annotated[Predictor, Depends(predictor)]
BatcherDep = Annotated[MicroBatcher, Depends(batcher)]
