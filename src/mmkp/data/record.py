"""The one record type for a post, its JSONL dictionary form, and the rules every reader
applies to a post (docs/data.md, "Input errors"):

- required: `id` (a non-empty string, or an integer, read as a string) and `text` (a
  non-empty string); missing, null, of another type or blank is an error.
- optional: `image`, `ocr`, `entities`, `keyphrases`, `match`; null means absent, and
  `"image": ""` means no image. Present values must have the right type: keyphrases are
  non-blank strings, entities names or `{name, score}`, `match` a probability.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

KNOWN_FIELDS = ("id", "text", "image", "ocr", "entities", "keyphrases", "match")


@dataclass(frozen=True)
class Entity:
    """A visual entity recognised in the image, e.g. Entity("egyptian cat", 0.81)."""

    name: str
    score: float | None = None

    def to_json(self) -> str | dict[str, Any]:
        return self.name if self.score is None else {"name": self.name, "score": self.score}

    @classmethod
    def from_json(cls, value: Any) -> Entity:
        if isinstance(value, str):
            return cls(value)
        if isinstance(value, dict) and isinstance(value.get("name"), str):
            score = value.get("score")
            if score is not None and not _is_number(score):
                raise ValueError(f"entity score must be a number, got {_show(score)}")
            return cls(value["name"], None if score is None else float(score))
        raise ValueError(f"entity must be a string or {{name, score}}, got {_show(value)}")


@dataclass
class Post:
    """A social-media post with its image-derived inputs and gold keyphrases.

    `text`, `ocr` and entity names are stored as given; readers of pre-tokenised benchmark
    files keep the dataset's tokenisation, raw user text goes through `mmkp.data.tokenize`.
    `extra` keeps unknown JSONL fields so round trips lose nothing.
    """

    id: str
    text: str
    image: str | None = None
    ocr: str = ""
    entities: list[Entity] = field(default_factory=list)
    keyphrases: list[str] = field(default_factory=list)
    match: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def entity_names(self) -> list[str]:
        return [entity.name for entity in self.entities]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "image": self.image,
            "ocr": self.ocr,
            "entities": [entity.to_json() for entity in self.entities],
            "keyphrases": list(self.keyphrases),
        }
        if self.match is not None:
            out["match"] = self.match
        out.update(self.extra)
        return out

    @classmethod
    def from_dict(cls, obj: Any) -> Post:
        """Build a Post from a JSONL object; raises ValueError naming the bad field."""
        if not isinstance(obj, dict):
            raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
        for name in ("id", "text"):
            if name not in obj:
                raise ValueError(f"missing required field {name!r}")
        post_id = obj["id"]
        if not isinstance(post_id, str | int) or isinstance(post_id, bool):
            raise ValueError(f"field 'id' must be a string or integer, got {_show(post_id)}")
        if not isinstance(obj["text"], str):
            raise ValueError(f"field 'text' must be a string, got {_show(obj['text'])}")
        image = _optional(obj, "image", str, None)
        keyphrases = _optional(obj, "keyphrases", list, [])
        if not all(isinstance(kp, str) for kp in keyphrases):
            problem = f"must be a list of strings, got {_show(keyphrases)}"
            raise ValueError(f"field 'keyphrases' {problem}")
        match = obj.get("match")
        if match is not None and (not _is_number(match) or not 0 <= match <= 1):
            raise ValueError(f"field 'match' must be a probability in [0, 1], got {_show(match)}")
        post = cls(
            id=str(post_id),
            text=obj["text"],
            image=image,
            ocr=_optional(obj, "ocr", str, ""),
            entities=[Entity.from_json(value) for value in _optional(obj, "entities", list, [])],
            keyphrases=list(keyphrases),
            match=None if match is None else float(match),
            extra={k: v for k, v in obj.items() if k not in KNOWN_FIELDS},
        )
        return check_post(post)


def check_post(post: Post) -> Post:
    """The rules every reader applies to the posts it builds (module docstring); a blank
    image becomes None. Returns the post; raises ValueError naming the field."""
    if not post.id.strip():
        raise ValueError("field 'id' is empty")
    if not post.text.strip():
        raise ValueError("field 'text' (the post) is empty")
    if any(not kp.strip() for kp in post.keyphrases):
        raise ValueError(f"field 'keyphrases' holds a blank keyphrase: {_show(post.keyphrases)}")
    if any(not entity.name.strip() for entity in post.entities):
        raise ValueError("field 'entities' holds a blank entity name")
    if post.image is not None and not post.image.strip():
        post.image = None
    return post


def _optional(obj: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    """An optional field: absent or null gives `default`, another type is an error."""
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ValueError(f"field {name!r} must be {_KINDS[kind]} or null, got {_show(value)}")
    return value


_KINDS = {str: "a string", list: "a list"}


def _is_number(value: Any) -> bool:
    """A finite JSON number (not a bool, not NaN or infinite, not an int beyond float)."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def _show(value: Any, limit: int = 60) -> str:
    """A value as JSON (null, true, "x"), cut to `limit` characters for one-line messages."""
    text = json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 1] + "…"
