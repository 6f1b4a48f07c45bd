"""Outputs: replaced whole, readable as a plain open() would leave them, and a file in the
way of a folder (or the reverse) named in one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from mmkp.io import atomic_directory, atomic_open, output_dir


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_atomic_outputs_get_the_permissions_of_a_plain_write(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with atomic_open(tmp_path / "atomic.txt") as handle:
        handle.write("x")
    assert _mode(tmp_path / "atomic.txt") == _mode(plain)  # not mkstemp's 0600
    (tmp_path / "plain").mkdir()
    with atomic_directory(tmp_path / "model") as folder:
        (folder / "a").write_text("x")
    assert _mode(tmp_path / "model") == _mode(tmp_path / "plain")  # not mkdtemp's 0700
    assert os.access(tmp_path / "model" / "a", os.R_OK)


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write("half of the new")
        raise RuntimeError
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_files_and_folders_in_the_wrong_place_are_named(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    with pytest.raises(NotADirectoryError, match=r"file: is a file, not a folder \(needed for"):
        output_dir(tmp_path / "file" / "sub")
    folder_error = pytest.raises(IsADirectoryError, match=r"folder: is a folder; give a file")
    with folder_error, atomic_open(tmp_path / "folder"):
        pass
    file_error = pytest.raises(NotADirectoryError, match=r"file: is a file, not a folder")
    with file_error, atomic_directory(tmp_path / "file"):
        pass
