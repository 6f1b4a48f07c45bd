"""`GET /metrics`: the app's Prometheus metrics (`mmkp.serve.metrics`), open like /health."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from mmkp.serve.dependencies import ServiceDep

router = APIRouter()


@router.get("/metrics", include_in_schema=False)
async def metrics(service: ServiceDep) -> Response:
    return service.metrics.response()
