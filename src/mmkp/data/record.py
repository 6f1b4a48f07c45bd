"""The one record type for a post, and its JSONL dictionary form."""

from __future__ import annotations

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
            if score is not None and not isinstance(score, int | float):
                raise ValueError(f"entity score must be a number, got {score!r}")
            return cls(value["name"], None if score is None else float(score))
        raise ValueError(f"entity must be a string or {{name, score}}, got {value!r}")


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
            raise ValueError(f"field 'id' must be a string or integer, got {post_id!r}")
        text = _expect(obj, "text", str, "")
        image = obj.get("image")
        if image is not None and not isinstance(image, str):
            raise ValueError(f"field 'image' must be a string or null, got {image!r}")
        entities = _expect(obj, "entities", list, [])
        keyphrases = _expect(obj, "keyphrases", list, [])
        if not all(isinstance(kp, str) for kp in keyphrases):
            raise ValueError(f"field 'keyphrases' must be a list of strings, got {keyphrases!r}")
        match = obj.get("match")
        if match is not None and (not isinstance(match, int | float) or not 0 <= match <= 1):
            raise ValueError(f"field 'match' must be a probability in [0, 1], got {match!r}")
        return cls(
            id=str(post_id),
            text=text,
            image=image,
            ocr=_expect(obj, "ocr", str, "") or "",
            entities=[Entity.from_json(value) for value in entities],
            keyphrases=list(keyphrases),
            match=None if match is None else float(match),
            extra={k: v for k, v in obj.items() if k not in KNOWN_FIELDS},
        )


def _expect(obj: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = obj.get(name, default)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise ValueError(f"field {name!r} must be {kind.__name__}, got {value!r}")
    return value
