"""Where `Predictor.from_pretrained` finds a model: a local directory, or a Hub repo id.

A model directory is laid out as a Hugging Face Hub model repo (the files of
`mmkp.inference.checkpoint` and a README.md model card), so it can be pushed as it is; a repo
id (`owner/name`) is resolved by huggingface_hub (the optional `hub` extra), which uses its
local cache and, with `HF_HUB_OFFLINE=1` or `local_files_only=True`, nothing else.
"""

from __future__ import annotations

import re
from pathlib import Path

# owner/name as the Hub spells repo ids: letters, digits, `-`, `_`, `.`; no `..`, no slash more
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
HUB_EXTRA = "pip install -c constraints.txt -e '.[hub]'"


def resolve_model(
    path_or_repo_id: str | Path, *, revision: str | None = None, local_files_only: bool = False
) -> Path:
    """The model directory that `path_or_repo_id` names: a local directory as it is, else
    the snapshot of the Hub repo `owner/name` at `revision` (default: main)."""
    path = Path(path_or_repo_id)
    if path.is_dir():
        return path
    name = str(path_or_repo_id)
    if not _REPO_ID.match(name) or ".." in name:
        raise FileNotFoundError(f"{name}: no such model directory, nor a Hub repo id (owner/name)")
    if path.exists():
        raise NotADirectoryError(f"{name}: is a file, not a model directory")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError
    except ImportError as exc:
        raise ValueError(
            f"{name}: not a local directory; to read it as a Hub repo id: {HUB_EXTRA}"
        ) from exc
    try:
        snapshot = snapshot_download(
            name, revision=revision, local_files_only=local_files_only, library_name="mmkp"
        )
    except LocalEntryNotFoundError as exc:
        raise FileNotFoundError(
            f"{name}: neither a local directory nor in the Hugging Face cache at "
            f"revision {revision or 'main'} (offline: nothing was downloaded)"
        ) from exc
    except HfHubHTTPError as exc:
        reason = str(exc).splitlines()[0]
        raise ValueError(f"{name}: the Hub did not give the model ({reason})") from exc
    return Path(str(snapshot))
