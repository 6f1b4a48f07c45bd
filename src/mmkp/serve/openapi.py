"""The OpenAPI schema of the routes that read their own body (to limit its size and parse
multipart in memory): their request models are added to the generated components."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from mmkp.serve.schemas import FORM_SCHEMA, TEXT_FORM_SCHEMA, BatchRequest, KeyphraseRequest

REQUEST_MODELS = (KeyphraseRequest, BatchRequest)  # bodies the routes read by hand


def request_body(forms: dict[str, str]) -> dict[str, Any]:
    """An OpenAPI request body for routes that read (and size-limit) their body themselves."""
    content = {
        media: {"schema": {"$ref": f"#/components/schemas/{name}"}} for media, name in forms.items()
    }
    return {"required": True, "content": content}


def with_request_models(app: FastAPI) -> None:
    """Add the hand-read request models to the generated schema's components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()  # which also keeps it in app.openapi_schema
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in REQUEST_MODELS:
                definition = model.model_json_schema(ref_template="#/components/schemas/{model}")
                components.update(definition.pop("$defs", {}))
                components[model.__name__] = definition
            components["KeyphraseForm"] = FORM_SCHEMA
            components["KeyphraseTextForm"] = TEXT_FORM_SCHEMA
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
