"""Baidu general image recognition ("advanced_general"), the kind of API the paper's entities
came from. Standard library HTTP only.

Protocol: an OAuth access token from `POST {token_url}?grant_type=client_credentials&client_id=
API_KEY&client_secret=SECRET_KEY` (answer `{"access_token", "expires_in"}`), then `POST
{api_url}?access_token=TOKEN` with the form field `image` = base64 of the picture. The answer is
`{"log_id", "result_num", "result": [{"keyword", "score", "root"}, ...]}` or, on failure,
`{"error_code", "error_msg"}`. Keywords are returned as the service gives them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from mmkp.data.record import Entity, Post
from mmkp.features.entities.base import EntityError, EntityServiceError

TOKEN_INVALID = {110, 111}  # access token invalid / expired: fetch a new one once
RETRY_LATER = {18, 282000}  # QPS limit, internal error: back off and retry
QUOTA = {4, 17, 19}  # cluster / daily / total request limits: nothing more today
NO_PERMISSION = {6, 14}  # the application may not use this API


@dataclass(frozen=True)
class BaiduConfig:
    token_url: str = "https://aip.baidubce.com/oauth/2.0/token"
    api_url: str = "https://aip.baidubce.com/rest/2.0/image-classify/v2/advanced_general"
    api_key_env: str = "BAIDU_API_KEY"
    secret_key_env: str = "BAIDU_SECRET_KEY"
    timeout: float = 10.0  # seconds per request
    retries: int = 3  # extra attempts after a network error, 5xx or QPS refusal
    backoff: float = 1.0  # seconds before the first retry, doubled after each
    top_k: int = 5
    max_side: int = 1024  # downscale larger images (the API accepts <= 4096 px, <= 4 MB base64)


class BaiduClient:
    """Talks to the API; caches the access token until shortly before it expires."""

    def __init__(
        self,
        api_key: str,
        secret_key: str,
        config: BaiduConfig | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.config = config or BaiduConfig()
        self._key = api_key
        self._secret = secret_key
        self._sleep = sleep
        self._token: str | None = None
        self._token_expiry = 0.0

    @classmethod
    def from_env(cls, config: BaiduConfig | None = None) -> BaiduClient:
        config = config or BaiduConfig()
        key = os.environ.get(config.api_key_env, "")
        secret = os.environ.get(config.secret_key_env, "")
        if not key or not secret:
            raise EntityServiceError(
                f"Baidu entities need the API key and secret key in the environment variables "
                f"{config.api_key_env} and {config.secret_key_env}"
            )
        return cls(key, secret, config)

    def token(self) -> str:
        if self._token is None or time.monotonic() >= self._token_expiry:
            query = urllib.parse.urlencode(
                {
                    "grant_type": "client_credentials",
                    "client_id": self._key,
                    "client_secret": self._secret,
                }
            )
            try:
                answer = self._post(f"{self.config.token_url}?{query}", b"", "token request")
            except EntityError as exc:
                raise EntityServiceError(str(exc)) from exc
            if "access_token" not in answer:
                problem = answer.get("error_description") or answer.get("error") or answer
                raise EntityServiceError(
                    f"Baidu rejected the credentials from {self.config.api_key_env} / "
                    f"{self.config.secret_key_env}: {problem}"
                )
            self._token = str(answer["access_token"])
            expires = answer.get("expires_in", 3600)
            # Renew a minute early so a token never expires between check and use.
            self._token_expiry = time.monotonic() + max(float(expires) - 60.0, 0.0)
        return self._token

    def recognise(self, image: Image.Image) -> list[Entity]:
        """Entities of one image, best first (at most `top_k`)."""
        body = urllib.parse.urlencode({"image": encode_image(image, self.config.max_side)})
        for renewed in (False, True):
            url = f"{self.config.api_url}?access_token={urllib.parse.quote(self.token())}"
            answer = self._post(url, body.encode("ascii"), "recognition request")
            code = answer.get("error_code")
            if code in TOKEN_INVALID and not renewed:
                self._token = None
                continue
            if code is not None:
                raise _api_error(code, answer.get("error_msg"))
            return parse_result(answer, self.config.top_k)
        raise EntityServiceError("Baidu rejected a freshly issued access token (error 110/111)")

    def _post(self, url: str, body: bytes, what: str) -> dict[str, Any]:
        """POST with retries and exponential backoff; returns the JSON object of the answer."""
        delay = self.config.backoff
        for attempt in range(self.config.retries + 1):
            last = attempt == self.config.retries
            try:
                return _json_object(self._send(url, body), what)
            except _Retryable as exc:
                if last:
                    raise EntityServiceError(
                        f"Baidu {what} failed after {attempt + 1} attempts: {exc}"
                    ) from exc
            self._sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _send(self, url: str, body: bytes) -> bytes:
        request = urllib.request.Request(
            url,
            data=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                data = response.read()
        except urllib.error.HTTPError as exc:
            payload = exc.read()
            if exc.code >= 500 or exc.code == 429:
                raise _Retryable(f"HTTP {exc.code}") from exc
            return payload  # 4xx: the JSON body says what is wrong (e.g. invalid_client)
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise _Retryable(str(getattr(exc, "reason", exc))) from exc
        # A QPS refusal arrives as HTTP 200 with error_code 18: retry it like a 429.
        if b'"error_code"' in data:
            try:
                if json.loads(data).get("error_code") in RETRY_LATER:
                    raise _Retryable(f"service busy: {data[:200].decode('utf-8', 'replace')}")
            except (ValueError, AttributeError):
                pass
        return data


class _Retryable(Exception):
    """A failure worth another attempt (network error, 5xx, QPS limit)."""


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        answer = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        snippet = data[:120].decode("utf-8", "replace")
        raise EntityError(f"Baidu {what}: malformed answer (not JSON): {snippet!r}") from exc
    if not isinstance(answer, dict):
        raise EntityError(f"Baidu {what}: malformed answer (not a JSON object): {answer!r:.120}")
    return answer


def _api_error(code: Any, message: Any) -> Exception:
    text = f"Baidu error {code}: {message}"
    if code in QUOTA:
        return EntityServiceError(f"{text} (request quota used up; resume the run later)")
    if code in NO_PERMISSION or code in TOKEN_INVALID:
        return EntityServiceError(f"{text} (check that the application may use image recognition)")
    return EntityError(text)  # e.g. 216201 image format error: this image only


def parse_result(answer: dict[str, Any], top_k: int) -> list[Entity]:
    """The `result` list -> entities; raises EntityError on any unexpected shape."""
    result = answer.get("result")
    if not isinstance(result, list):
        raise EntityError(f"Baidu answer has no 'result' list: {json.dumps(answer)[:160]}")
    entities = []
    for item in result:
        keyword = item.get("keyword") if isinstance(item, dict) else None
        score = item.get("score") if isinstance(item, dict) else None
        if not isinstance(keyword, str) or not isinstance(score, int | float):
            raise EntityError(f"Baidu result item lacks keyword/score: {item!r:.160}")
        entities.append(Entity(keyword.strip(), round(float(score), 4)))
    entities.sort(key=lambda entity: -(entity.score or 0.0))
    return entities[:top_k]


def encode_image(image: Image.Image, max_side: int) -> str:
    """Base64 JPEG of the image, downscaled to `max_side` (the API's size limits)."""
    if min(image.size) < 15:
        raise EntityError(f"image is {image.size[0]}x{image.size[1]}, Baidu needs >= 15 px a side")
    image = image.convert("RGB")
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class BaiduEntities:
    """`EntityProvider` over `BaiduClient`; one request per image."""

    name = "baidu"

    def __init__(self, client: BaiduClient):
        self.client = client

    def recognise(
        self, posts: Sequence[Post], images: Sequence[Image.Image]
    ) -> list[list[Entity] | EntityError]:
        out: list[list[Entity] | EntityError] = []
        for image in images:
            try:
                out.append(self.client.recognise(image))
            except EntityError as exc:
                out.append(exc)
        return out
