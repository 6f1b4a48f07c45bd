"""Liveness (the process answers) and readiness (the model is loaded: 503 before)."""

from __future__ import annotations

from fastapi import APIRouter

from mmkp.serve.dependencies import BatcherDep
from mmkp.serve.schemas import ErrorResponse, Health

router = APIRouter(prefix="/health")


@router.get("/live", response_model=Health)
async def live() -> Health:
    return Health(status="alive")


@router.get("/ready", response_model=Health, responses={503: {"model": ErrorResponse}})
async def ready(_: BatcherDep) -> Health:  # the batcher starts once the model is loaded
    return Health(status="ready")
