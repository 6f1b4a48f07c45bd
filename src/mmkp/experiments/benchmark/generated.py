"""The generated data a `--data generated` benchmark trains on, built once per run folder.

The same steps as `mmkp demo` (`mmkp.experiments.demo`: generate posts with real images,
then `prepare` them with the real OCR, entity recogniser and backbone), into OUT/generated/:

    OUT/generated/data/         the generated splits and images
    OUT/generated/prepared/     train/dev/test/itm.jsonl and the feature store
    OUT/generated/ready.json    written last: what was built (seed, sizes); its presence
                                means the data is complete
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mmkp.io import write_json_atomic

READY = "ready.json"


@dataclass(frozen=True)
class GeneratedData:
    """How much to generate; the demo's defaults."""

    seed: int = 0
    train: int = 600
    dev: int = 150
    test: int = 150
    itm: int = 300  # TRC-style pairs for L_itm (the packaged synthetic config reads them)


def generated_dir(out: Path) -> Path:
    return out / "generated"


def read_ready(out: Path) -> dict[str, Any] | None:
    """The identity of the complete generated data in `out`, or None when there is none."""
    path = generated_dir(out) / READY
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def ensure_generated(out: Path, wanted: GeneratedData) -> tuple[dict[str, Any], str | None]:
    """Build the data unless the same data is already complete; returns its identity (part
    of every generated run's spec, so other data retrains) and a note for the user."""
    # The demo's steps load torch and the featurizer: imported here, so `mmkp benchmark
    # --help` (which reads GeneratedData's defaults) stays light.
    from mmkp.experiments.demo import DemoState, generate_step, prepare_step

    identity = asdict(wanted)
    if read_ready(out) == identity:
        return identity, None
    folder = generated_dir(out)
    sizes = (wanted.train, wanted.dev, wanted.test)
    state = DemoState(folder, wanted.seed, sizes, n_itm=wanted.itm)
    generate_step(state)
    note = prepare_step(state)
    write_json_atomic(folder / READY, identity)
    return identity, note
