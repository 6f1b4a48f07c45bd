"""The resume journal of `mmkp prepare`: one fsynced JSON line per finished post.

A line is `{"record": <enriched post>, "errors": [{"stage", "reason"}, ...]}`. A post whose
image could not be used is journalled too, as failed, so a rerun skips it unless asked to
retry failures; when a post appears twice (a retried failure), the later line wins. A torn
last line (the run was killed while writing it) is cut off, so a killed run loses at most
the batch it was working on; a complete line that cannot be read is skipped (its post is
done again).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmkp.data.record import Post

log = logging.getLogger("mmkp.features")
FAILED_STAGES = ("image", "features")  # an error in these leaves a post without image inputs


@dataclass
class Finished:
    """A post as `prepare` left it, and what went wrong with it (stage + reason)."""

    post: Post
    errors: list[dict[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """True when the image could not be used (loading or featurizing it failed)."""
        return any(error["stage"] in FAILED_STAGES for error in self.errors)

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
        whole_lines = 0
        with open(self.path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.endswith(b"\n"):
                    break  # torn by a kill mid-write
                whole_lines += len(raw)
                try:
                    obj = json.loads(raw)
                    post = Post.from_dict(obj["record"])
                    errors = [dict(error) for error in obj.get("errors", [])]
                except (ValueError, KeyError, TypeError, RecursionError) as exc:
                    log.warning("%s:%d: unreadable line skipped (%s)", self.path, number, exc)
                    continue
                self.finished[post.id] = Finished(post, errors)
        # Drop the torn tail so the next append starts on a fresh line.
        with open(self.path, "ab") as handle:
            handle.truncate(whole_lines)

    def done(self, post_id: str, *, retry_failed: bool = False) -> bool:
        """Whether an earlier run finished the post (failed ones count unless retried)."""
        entry = self.finished.get(post_id)
        return entry is not None and not (retry_failed and entry.failed)

    def append(self, entries: Sequence[Finished]) -> None:
        lines = "".join(json.dumps(e.to_json(), ensure_ascii=False) + "\n" for e in entries)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as handle:
            handle.write(lines.encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
        for entry in entries:
            self.finished[entry.post.id] = entry
