"""`mmkp generate-data` writes the same files as the library call and reports the kind counts."""

from __future__ import annotations

from pathlib import Path

from mmkp.cli.main import main
from mmkp.data.synthetic import generate


def test_cli_matches_library(tmp_path: Path, capsys):
    argv = [
        "generate-data",
        "--out",
        str(tmp_path / "cli"),
        "--train",
        "8",
        "--dev",
        "4",
        "--test",
        "4",
    ]
    assert main([*argv, "--seed", "5", "--noise-share", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "train: 8 posts (text 2, ocr 2, visual 2, noise 2)" in out
    assert "dev: 4 posts (text 1, ocr 1, visual 1, noise 1)" in out
    generate(tmp_path / "lib", n_train=8, n_dev=4, n_test=4, seed=5, noise_share=0.25)
    for name in ("train.jsonl", "dev.jsonl", "test.jsonl", "meta.json"):
        assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "lib" / name).read_bytes()


def test_cli_rejects_bad_share(tmp_path: Path, capsys):
    assert main(["generate-data", "--out", str(tmp_path), "--noise-share", "1.5"]) == 2
    assert "noise_share must be in [0, 1], got 1.5" in capsys.readouterr().err
