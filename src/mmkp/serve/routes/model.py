"""`GET /v1/model`: the served model, its decode settings and the service's limits (its folder
on disk only with `show_model_path`: a caller need not know the server's file layout)."""

from __future__ import annotations

import dataclasses

from fastapi import APIRouter

from mmkp.config_loader import to_dict
from mmkp.serve.dependencies import PredictorDep, ServiceDep, model_name
from mmkp.serve.schemas import ErrorResponse, ModelInfo

router = APIRouter()


@router.get("/v1/model", response_model=ModelInfo, responses={503: {"model": ErrorResponse}})
async def model(predictor: PredictorDep, service: ServiceDep) -> ModelInfo:
    checkpoint = predictor.checkpoint
    return ModelInfo(
        name=model_name(predictor),
        directory=str(where)
        if (where := service.model_dir) and service.settings.show_model_path
        else None,
        uses_image=predictor.uses_image,
        vocab_size=len(checkpoint.vocab),
        labels=len(checkpoint.labels),
        backbone=checkpoint.config.backbone,
        config=to_dict(checkpoint.config.model),
        decode=to_dict(predictor.decode),
        limits=dataclasses.asdict(service.settings),
    )
