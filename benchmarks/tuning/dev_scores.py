"""Dev F1@1 / F1@3 / MAP@5 of every run of a benchmark folder, for choosing settings on dev
(the benchmark's own table scores the test split of generated data):

    python benchmarks/tuning/dev_scores.py runs/tune-generated
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(out: Path) -> None:
    for scores in sorted(out.glob("runs/*/*/dev_scores.json")):
        values = json.loads(scores.read_text(encoding="utf-8"))["scores"]
        cells = " / ".join(f"{values[m]:.2f}" for m in ("F1@1", "F1@3", "MAP@5"))
        print(f"{scores.parent.parent.name:24s} {cells}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
