"""Per-record problems: reported with file and line, skipped, never fatal to the rest of a run."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("mmkp.data")


class RecordError(ValueError):
    """A single bad record: names the source, the line (1-based) and the problem."""

    def __init__(self, source: str | Path, line: int | None, problem: str):
        self.source = str(source)
        self.line = line
        self.problem = problem
        where = f"{self.source}:{line}" if line is not None else self.source
        super().__init__(f"{where}: {problem}")


class RepeatedIdError(RecordError):
    """A post whose id an earlier post of the same file has: it is skipped, the first kept.

    Post ids key the feature store, prediction files and evaluation, so two posts with one
    id cannot both be used; skipping the later one in every reader keeps `predict`'s output
    and `evaluate`'s gold posts the same set."""


@dataclass
class ErrorLog:
    """Collects RecordErrors so a reader can skip bad lines and the caller can report them."""

    errors: list[RecordError] = field(default_factory=list)

    def add(self, error: RecordError) -> None:
        log.warning("skipped %s", error)
        self.errors.append(error)

    def __len__(self) -> int:
        return len(self.errors)


@dataclass
class IdCheck:
    """Remembers where each post id of a file was first seen, to refuse repeats."""

    source: str | Path
    first: dict[str, int | None] = field(default_factory=dict)

    def check(self, post_id: str, line: int | None) -> None:
        """Raise RepeatedIdError if `post_id` was seen before, else remember it."""
        if post_id in self.first:
            where = self.first[post_id]
            earlier = f" (first on line {where})" if where is not None else ""
            problem = f"post id {post_id!r} repeated{earlier}; kept the first"
            raise RepeatedIdError(self.source, line, problem)
        self.first[post_id] = line
