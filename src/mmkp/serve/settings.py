"""The service's settings: the device, request and connection limits, the image-URL policy,
who may call (API key, hosts, origins), micro-batching, shutdown.

A frozen dataclass like every config section: `mmkp serve --set allow_urls=true` or a YAML
file (`--config`), checked by the config loader. Every limit answers with a 4xx JSON error
that names the request field.
"""

from __future__ import annotations

from dataclasses import dataclass

from mmkp.features.minilm_precision import MiniLMPrecision

DEFAULT_IMAGE_TYPES = "jpeg png webp gif bmp"
ENVIRONMENT = "MMKP_SERVE"  # how `python -m mmkp.serve` hands its options to each worker


@dataclass(frozen=True)
class ServeSettings:
    # Where the model runs (`mmkp serve --device`): cpu, cuda, cuda:N or auto (cuda when a GPU
    # is visible); resolved by mmkp.devices, an unusable one refused at startup.
    device: str = "cpu"
    # MiniLM's precision for the posts and candidates it embeds (`--set minilm_precision=bf16`:
    # about 1.7x faster on a CPU with AVX512-BF16, not exact; docs/decoding.md)
    minilm_precision: MiniLMPrecision = "fp32"
    # Request limits.
    max_text_chars: int = 5_000  # raw text characters per post (422 `text`)
    max_image_bytes: int = 10_000_000  # encoded image bytes (413 `image_base64` / `image`)
    max_image_pixels: int = 40_000_000  # width x height before decoding (413): bomb guard
    max_body_bytes: int = 16_000_000  # whole request body, JSON or multipart (413 `body`)
    max_batch_posts: int = 32  # posts per `:batch` call (422 `posts`)
    max_form_fields: int = 16  # fields or parts in a form body (413 `body`), counted unparsed
    image_types: str = DEFAULT_IMAGE_TYPES  # accepted formats, as Pillow names them (415)
    # Image URLs (`image_url`): off unless enabled; when on, the server fetches them itself,
    # so addresses of its own machine and network are refused unless allowed (SSRF guard).
    allow_urls: bool = False
    allow_private_urls: bool = False  # loopback, private, link-local, reserved addresses
    url_timeout: float = 5.0  # seconds for connecting and the whole download, a hard deadline
    max_url_fetches: int = 8  # downloads at once, on their own threads; beyond, 503 `image_url`
    # Connections: requests in progress at once (beyond, 503 with Retry-After; /health and
    # /metrics are not counted) and seconds to receive a whole body (beyond, 408).
    max_concurrent_requests: int = 64
    body_timeout: float = 30.0
    # Seconds a connection may take to send a request's headers (`mmkp serve` only: its
    # uvicorn protocol, mmkp.serve.protocol, closes slower ones: slowloris).
    header_timeout: float = 10.0
    # Who may call. `api_key_env` names the environment variable that holds the API key (the
    # key itself is never a setting): then /v1/* want `Authorization: Bearer KEY` or
    # `X-API-Key: KEY` (401 otherwise); /, /docs, /health/* and /metrics stay open.
    api_key_env: str = ""
    # Host names the server answers to (comma or space separated, `*` for any). Empty: any,
    # except that a request arriving on a loopback address must name a loopback host
    # (localhost, 127.0.0.1, ::1), which defeats DNS rebinding.
    allowed_hosts: str = ""
    # Origins (scheme://host[:port]) whose pages may call the API from a browser (CORS). Empty:
    # none; a cross-origin POST is refused (403) whatever its Content-Type.
    cors_origins: str = ""
    show_model_path: bool = False  # the model directory in GET /v1/model
    # Micro-batching: the worker decodes every post queued while it was busy, and waits up to
    # `batch_wait_ms` after the first for more, up to `batch_max_posts` posts per batch.
    batch_max_posts: int = 32
    batch_wait_ms: float = 2.0
    max_queue_posts: int = 512  # posts waiting for the worker; beyond, 503 with Retry-After
    # Graceful shutdown: seconds in-flight requests get to finish after SIGTERM / SIGINT.
    shutdown_timeout: float = 30.0

    def __post_init__(self) -> None:
        counts = {
            "max_text_chars": self.max_text_chars,
            "max_image_bytes": self.max_image_bytes,
            "max_image_pixels": self.max_image_pixels,
            "max_body_bytes": self.max_body_bytes,
            "max_batch_posts": self.max_batch_posts,
            "batch_max_posts": self.batch_max_posts,
            "max_queue_posts": self.max_queue_posts,
            "max_form_fields": self.max_form_fields,
            "max_url_fetches": self.max_url_fetches,
            "max_concurrent_requests": self.max_concurrent_requests,
        }
        for name, value in counts.items():
            if value < 1:
                raise ValueError(f"serve.{name} must be >= 1, got {value}")
        if self.batch_wait_ms < 0 or self.shutdown_timeout < 0:
            raise ValueError(
                "serve.batch_wait_ms and serve.shutdown_timeout must be >= 0, got "
                f"{self.batch_wait_ms}, {self.shutdown_timeout}"
            )
        timeouts = {
            "url_timeout": self.url_timeout,
            "body_timeout": self.body_timeout,
            "header_timeout": self.header_timeout,
        }
        for name, seconds in timeouts.items():
            if seconds <= 0:
                raise ValueError(f"serve.{name} must be > 0 seconds, got {seconds}")
        if not self.formats:
            raise ValueError(f"serve.image_types names no format: {self.image_types!r}")

    @property
    def hosts(self) -> frozenset[str]:
        """The allowed host names, lower case (empty: the loopback rule only)."""
        return frozenset(_words(self.allowed_hosts.lower()))

    @property
    def origins(self) -> tuple[str, ...]:
        """The CORS allow-list, as given."""
        return tuple(_words(self.cors_origins))

    @property
    def formats(self) -> frozenset[str]:
        """The accepted image formats in Pillow's spelling (JPEG, PNG, ...)."""
        return frozenset(name.upper() for name in _words(self.image_types))


def _words(text: str) -> list[str]:
    """A setting's list: comma or space separated."""
    return text.replace(",", " ").split()
