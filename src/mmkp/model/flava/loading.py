"""The user's FLAVA model folder -> transformers' FlavaModel and tokenizer, offline.

transformers is imported here, on first use only: the rest of the package (and every other
member) runs without it. Each way the folder can be unusable is one ValueError line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

INSTALL = "pip install -c constraints.txt -e '.[flava]'"


def load_flava(path: str | Path) -> tuple[Any, Any]:
    """(FlavaModel, tokenizer) from `path`, read with local files only."""
    try:
        import transformers
    except ImportError:
        raise ValueError(f"model 'flava' needs the transformers package: {INSTALL}") from None
    folder = Path(path)
    if not folder.is_dir():
        raise ValueError(
            f"model.flava_path {folder}: no such folder; save a FLAVA model and its tokenizer "
            "there with save_pretrained (no model is downloaded here)"
        )
    config = folder / "config.json"
    if not config.is_file():
        raise ValueError(f"model.flava_path {folder}: no config.json, not a saved FLAVA model")
    try:
        kind = json.loads(config.read_text(encoding="utf-8")).get("model_type")
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"{config}: not a transformers config ({exc})") from exc
    if kind != "flava":
        raise ValueError(f"{config}: model_type is {kind!r}, not 'flava'")
    transformers.logging.disable_progress_bar()  # library calls stay quiet
    try:
        model = transformers.FlavaModel.from_pretrained(folder, local_files_only=True)
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"model.flava_path {folder}: cannot load FLAVA ({first})") from exc
    return model, tokenizer
