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


@dataclass
class ErrorLog:
    """Collects RecordErrors so a reader can skip bad lines and the caller can report them."""

    errors: list[RecordError] = field(default_factory=list)

    def add(self, error: RecordError) -> None:
        log.warning("skipped %s", error)
        self.errors.append(error)

    def __len__(self) -> int:
        return len(self.errors)
