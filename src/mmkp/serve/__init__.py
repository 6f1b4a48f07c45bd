"""`mmkp serve`: the HTTP API and web page over one loaded `Predictor` (a thin edge, beside cli).

    settings.py   ServeSettings: every limit, the image-URL policy, micro-batching, shutdown
    schemas.py    the Pydantic request / response models (the OpenAPI schema at /openapi.json)
    errors.py     ApiError and the handlers that turn every failure into a JSON error naming
                  its field
    inputs.py     request -> model input in memory: body size, JSON or forms (multipart
                  parsed in memory), base64, image type, byte and pixel limits
    urls.py       image URLs, fetched behind the server-side request forgery guard
    batcher.py    MicroBatcher: concurrent requests decoded together on one worker thread
    access_log.py one JSON line per request (id, status, latency, posts)
    examples.py   a few generated posts with rendered images, for the page's example buttons
    openapi.py    the schema of the routes that read their own body
    app.py        create_app: the routes, the lifespan (model loaded once) and the page
    __main__.py   `python -m mmkp.serve` (what `mmkp serve` runs): options, then uvicorn
    static/       the page: index.html, app.js, style.css (no build step)

Modelling stays in the inference layer: the service only reads requests, queues them and
writes the `PredictionResult` diagnostics out as JSON.
"""
