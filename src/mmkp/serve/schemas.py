"""The API's request and response models (Pydantic); FastAPI publishes them at /openapi.json.

Limits that are settings (text length, image bytes, posts per batch) are checked by the
handlers, so one schema serves every configuration; the decode settings a request may change
(`top_k`, `beam_size`) come with their bounds from `DecodeConfig` (`decode_fields`).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mmkp.serve.decode_fields import form_properties, overrides_model


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PostIn(_Strict):
    """One post: raw text and at most one image, inline (base64) or by URL."""

    id: str | None = Field(None, max_length=200, description="echoed back; any string")
    text: str = Field(min_length=1, description="the raw post text (normalised like the data)")
    image_url: str | None = Field(None, min_length=1, description="http(s) URL, if allowed")
    image_base64: str | None = Field(
        None, min_length=1, json_schema_extra={"format": "byte"}, description="the image, base64"
    )


DecodeOverrides = overrides_model(_Strict)  # top_k, beam_size, ... from DecodeConfig


class KeyphraseRequest(PostIn, DecodeOverrides):
    """`POST /v1/keyphrases` as JSON."""


# `POST /v1/keyphrases` as multipart/form-data: fields are strings (or the file), never null.
FORM_SCHEMA: dict[str, Any] = {
    "title": "KeyphraseForm",
    "type": "object",
    "required": ["text"],
    "additionalProperties": False,
    "properties": {
        "text": {"type": "string", "minLength": 1},
        "image": {"type": "string", "format": "binary", "description": "the image file"},
        "id": {"type": "string", "maxLength": 200},
        **form_properties(DecodeOverrides),
    },
}
# ... and as an url-encoded form (an HTML form without a file): the same fields, no image.
TEXT_FORM_SCHEMA: dict[str, Any] = {
    **FORM_SCHEMA,
    "title": "KeyphraseTextForm",
    "properties": {k: v for k, v in FORM_SCHEMA["properties"].items() if k != "image"},
}


class BatchRequest(DecodeOverrides):
    """`POST /v1/keyphrases:batch`: the decode settings apply to every post."""

    posts: list[PostIn] = Field(min_length=1)


class Keyphrase(BaseModel):
    text: str
    score: float = Field(description="length-normalised log-probability; higher is better")


class OcrLineOut(BaseModel):
    text: str
    score: float
    box: list[list[float]] = Field(description="4 (x, y) corners in image pixels")


class EntityOut(BaseModel):
    name: str
    score: float | None


class Timings(BaseModel):
    queue_ms: float = Field(description="waiting for the model worker")
    featurize_ms: float = Field(description="OCR, entities and grids of the whole batch")
    decode_ms: float = Field(description="encoding and beam search of the whole batch")
    total_ms: float = Field(description="the request from its first byte to its answer")
    batch_posts: int = Field(description="posts decoded together with this one")


class KeyphraseResponse(BaseModel):
    id: str | None
    keyphrases: list[Keyphrase] = Field(description="best first")
    match_score: float | None = Field(description="s_c, image-text match (eq. 3)")
    regions: list[list[float]] | None = Field(description="7x7 sigmoid(A), rows top first")
    ocr: list[OcrLineOut]
    entities: list[EntityOut]
    text: str = Field(description="the text as the model read it (normalised)")
    ocr_text: str = Field(description="the OCR text the model read (confident lines)")
    model: str
    timings: Timings


class ErrorBody(BaseModel):
    type: str = Field(description="e.g. invalid, too_large, unsupported_type, url_blocked")
    field: str | None = Field(description="the request field at fault, e.g. posts.2.text")
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class BatchItem(BaseModel):
    index: int
    id: str | None
    result: KeyphraseResponse | None
    error: ErrorBody | None


class BatchResponse(BaseModel):
    results: list[BatchItem] = Field(description="in request order; a bad post fails alone")
    model: str


class Health(BaseModel):
    status: str


class ModelInfo(BaseModel):
    name: str
    directory: str | None
    uses_image: bool
    vocab_size: int
    labels: int
    backbone: str | None
    config: dict[str, Any]
    decode: dict[str, Any]
    limits: dict[str, Any]


class Example(BaseModel):
    name: str
    description: str
    text: str
    image: str = Field(description="data: URL")
    gold: list[str]
