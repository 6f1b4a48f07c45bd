"""`mmkp serve`: the HTTP API and web page over one loaded `Predictor` (a thin edge, beside cli).

    settings.py      ServeSettings: the device, every limit, the image-URL policy, who may
                     call (API key, hosts, origins), micro-batching, shutdown
    decode_fields.py the decode settings a request may change, derived from DecodeConfig's
                     `request_field`s (JSON bodies, forms, OpenAPI)
    schemas.py       the Pydantic request / response models (the OpenAPI schema at /openapi.json)
    errors.py        ApiError, PostRefused, and the one mapping (and handler) from an exception
                     to a JSON error naming its field
    inputs.py        request -> raw post in memory: body size and time, JSON or forms (field
                     counts, parsed in memory off the loop), base64, image type, bytes, pixels
    urls.py          image URLs, fetched behind the server-side request forgery guard, to a
                     hard deadline, on their own threads (Downloads)
    guard.py         middleware: Host, Origin, API key, requests in progress
    metrics.py       Prometheus metrics (a registry per app) and the request-metrics middleware
    protocol.py      uvicorn's h11 protocol with a deadline for request headers (slowloris)
    batcher.py       MicroBatcher: concurrent requests through the predictor's steps together
                     on one worker thread
    dependencies.py  the app's state (Service) and the Depends giving routes the predictor,
                     batcher and settings
    routes/          the APIRouters: page, health, model, predict, metrics, docs (offline)
    access_log.py    one JSON line per request (id, status, latency, posts)
    examples.py      a few generated posts with rendered images, for the page's example buttons
    openapi.py       the schema of the routes that read their own body
    app.py           create_app: the routers, the handlers, the lifespan (model loaded once)
    __main__.py      `python -m mmkp.serve` (what `mmkp serve` runs): options, then uvicorn
    static/          the page: index.html, app.js, style.css (no build step)

Modelling stays in the inference layer: the service only reads requests, queues them and
writes the `PredictionResult` diagnostics out as JSON.
"""
