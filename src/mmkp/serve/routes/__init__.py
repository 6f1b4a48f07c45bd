"""The API's routes, one router per concern; `create_app` includes `ROUTERS` in this order.

page.py     GET /, GET /v1/examples: the page and its example posts
health.py   GET /health/live, /health/ready
model.py    GET /v1/model: what is served and how
predict.py  POST /v1/keyphrases (JSON or a form), POST /v1/keyphrases:batch
metrics.py  GET /metrics: Prometheus text format
docs.py     GET /docs, /redoc: Swagger UI and ReDoc from the package, no CDN
"""

from __future__ import annotations

from mmkp.serve.routes import docs, health, metrics, model, page, predict

ROUTERS = (page.router, health.router, model.router, predict.router, metrics.router, docs.router)
