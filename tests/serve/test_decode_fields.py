"""The request's decode settings come from `DecodeConfig` alone: the fields marked
`request_field` are the JSON and form fields, with their bounds and descriptions, and a field
newly marked appears in the request model without a line in serve/."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, ValidationError

from mmkp.decoding.config import REQUEST, DecodeConfig, request_field
from mmkp.serve import decode_fields
from mmkp.serve.schemas import FORM_SCHEMA, BatchRequest, KeyphraseRequest


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class WiderDecode(DecodeConfig):
    """DecodeConfig with three more settings marked for requests (a float, a bool, a choice)."""

    strategy: Literal["beam", "greedy"] = request_field("beam", "search")
    words_only: bool = request_field(True, "block punctuation")
    max_score_gap: float | None = request_field(None, "score gap", ge=0)


def test_the_request_fields_are_decode_configs_marked_fields():
    marked = [f for f in dataclasses.fields(DecodeConfig) if REQUEST in f.metadata]
    names = ("beam_size", "top_k", "block_repeats")
    assert decode_fields.FIELDS == tuple(f.name for f in marked) == names
    for model in (KeyphraseRequest, BatchRequest):
        properties = model.model_json_schema()["properties"]
        for f in marked:
            schema = properties[f.name]
            assert schema["description"] == f.metadata[REQUEST]["description"]
        for name in ("beam_size", "top_k"):
            assert properties[name]["anyOf"][0] == {"type": "integer", "minimum": 1, "maximum": 50}
            assert FORM_SCHEMA["properties"][name]["maximum"] == 50
        assert properties["block_repeats"]["anyOf"][0] == {"type": "boolean"}
        assert FORM_SCHEMA["properties"]["block_repeats"]["type"] == "boolean"


def test_a_newly_marked_field_is_a_request_field_with_its_type_and_bounds():
    model = decode_fields.overrides_model(Strict, WiderDecode)
    types = decode_fields.request_types(WiderDecode)
    assert types == {"beam_size": int, "top_k": int, "strategy": Literal["beam", "greedy"],
                     "words_only": bool, "max_score_gap": float,
                     "block_repeats": bool}  # fmt: skip
    body = model.model_validate_json(
        '{"top_k": 3.0, "strategy": "greedy", "words_only": false, "max_score_gap": 1}'
    )
    assert body.model_dump(exclude_none=True) == {
        "top_k": 3, "strategy": "greedy", "words_only": False, "max_score_gap": 1.0}  # fmt: skip
    for wrong in ('{"strategy": "sample"}', '{"words_only": "yes"}', '{"max_score_gap": -1}',
                  '{"max_score_gap": "1"}', '{"beam_size": true}', '{"colour": 1}'):  # fmt: skip
        with pytest.raises(ValidationError):
            model.model_validate_json(wrong)
    form = decode_fields.form_properties(model, WiderDecode)
    assert form["strategy"] == {"enum": ["beam", "greedy"], "type": "string",
                                "description": "search"}  # fmt: skip
    assert form["max_score_gap"] == {"type": "number", "minimum": 0, "description": "score gap"}
    assert decode_fields.form_value("words_only", "False", types) is False
    assert decode_fields.form_value("max_score_gap", " 0.5", types) == 0.5
    with pytest.raises(ValueError, match="max_score_gap: not a number: 'wide'"):
        decode_fields.form_value("max_score_gap", "wide", types)
