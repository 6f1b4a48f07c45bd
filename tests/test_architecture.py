"""The package's layering (pyproject.toml, [tool.importlinter]) holds: import-linter runs
with every test run, so an import against the arrows fails the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_nothing_in_the_package_unpickles():
    """Checkpoints and features are safetensors, JSON and raw arrays: no pickle anywhere."""
    offending = []
    for path in sorted((ROOT / "src" / "mmkp").rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            unsafe_torch = "torch.load(" in code and "weights_only=True" not in code
            if unsafe_torch or "pickle.load" in code or "allow_pickle=True" in code:
                offending.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offending, offending
