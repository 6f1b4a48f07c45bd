"""A bounded schemathesis run against the served OpenAPI schema (valid and invalid requests
generated from it, per operation and media type): no 5xx, every status documented, every
answer as its schema says, every 4xx a JSON error. benchmarks/serve_fuzz.py runs more."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from mmkp.serve.app import create_app
from mmkp.serve.settings import ServeSettings

from .conftest import serving

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, negative_data_rejection]  # fmt: skip
EXAMPLES = 10  # per operation, media type and mode: about 85 requests, 3 s


def fuzz(operation, mode: GenerationMode, media_type: str | None) -> int:
    """Run EXAMPLES generated cases of one operation; the number of requests sent."""
    sent = []

    @given(case=operation.as_strategy(generation_mode=mode, media_type=media_type))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    def run(case) -> None:
        response = case.call(timeout=60)
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500:
            error = response.json()["error"]
            assert error["type"] and error["message"], response.text
        sent.append(response.status_code)

    try:
        run()
    except Unsatisfiable:  # a GET without parameters has no invalid form
        assert mode is GenerationMode.NEGATIVE and media_type is None
    return len(sent)


@pytest.fixture
def hypothesis_home(tmp_path_factory):
    """Hypothesis keeps its caches under pytest's temporary folder, not in the working tree
    (for the rest of the session: it may write them after the test)."""
    set_hypothesis_home_dir(tmp_path_factory.getbasetemp() / "hypothesis")


def test_the_api_keeps_its_schema(tiny, hypothesis_home):
    app = create_app(ServeSettings(max_text_chars=500, max_batch_posts=4), predictor=tiny)
    with serving(app) as url:
        schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
        sent = 0
        for result in schema.get_all_operations():
            operation = result.ok()
            body = operation.definition.raw.get("requestBody", {}).get("content", {None: None})
            for media_type in body:
                for mode in GenerationMode:
                    sent += fuzz(operation, mode, media_type)
    assert sent >= 80  # 8 body forms (media type x mode) x 10, and the GETs
