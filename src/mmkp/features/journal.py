"""The resume journal of `mmkp prepare`: one fsynced JSON line per finished post.

A line is `{"record": <enriched post>, "errors": [{"stage", "reason"}, ...]}`. When a post
appears twice (a retried failure), the later line wins. A torn last line (the run was killed
while writing it) is ignored, so a killed run loses at most the batch it was working on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkp.data.record import Post


@dataclass
class Finished:
    """A post as `prepare` left it, and what went wrong with it (stage + reason)."""

    post: Post
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def image_failed(self) -> bool:
        """True when the image itself could not be used: worth retrying in a later run."""
        return any(error["stage"] == "image" for error in self.errors)

    def to_json(self) -> dict[str, Any]:
        return {"record": self.post.to_dict(), "errors": self.errors}


class Journal:
    """Append-only log of finished posts in `path`."""

    def __init__(self, path: Path):
        self.path = path
        self.finished: dict[str, Finished] = {}
        if path.is_file():
            self._load()

    def _load(self) -> None:
        valid_bytes = 0
        with open(self.path, "rb") as handle:
            for raw in handle:
                if not raw.endswith(b"\n"):
                    break  # torn by a kill mid-write
                try:
                    obj = json.loads(raw)
                    post = Post.from_dict(obj["record"])
                except (ValueError, KeyError, TypeError):
                    break
                self.finished[post.id] = Finished(post, list(obj.get("errors", [])))
                valid_bytes += len(raw)
        # Drop the torn tail so the next append starts on a fresh line.
        with open(self.path, "ab") as handle:
            handle.truncate(valid_bytes)

    def done(self, post_id: str) -> bool:
        entry = self.finished.get(post_id)
        return entry is not None and not entry.image_failed

    def append(self, entries: Sequence[Finished]) -> None:
        lines = "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in entries)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as handle:
            handle.write(lines.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        for entry in entries:
            self.finished[entry.post.id] = entry
