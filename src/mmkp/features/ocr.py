"""OCR text X_O from an image: RapidOCR (PaddleOCR's PP-OCR models as ONNX, shipped in its wheel).

The benchmark's OCR field is lowercase words only, so `ocr_text` keeps the alphabetic tokens of
the lines that pass the score threshold, in reading order (top to bottom, left to right). The
raw lines (text, score, box) are kept beside it for display.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True)
class OcrConfig:
    """OCR settings. The threshold drops the false "0" RapidOCR reads on text-free photos (0.7)."""

    min_score: float = 0.8
    # Detection resizes the longer side down to this many pixels and never upscales: tweet
    # images keep their size (RapidOCR's default upscales the short side to 736 px, 3x slower).
    det_side: int = 960
    threads: int = 1  # onnxruntime threads; prepare runs OCR beside the CNN on another core

    def __post_init__(self) -> None:
        if self.det_side < 32:
            raise ValueError(f"OCR det_side must be >= 32 pixels, got {self.det_side}")


@dataclass(frozen=True)
class OcrLine:
    """One detected text line: its text, recognition score and 4-point box (x, y) in pixels."""

    text: str
    score: float
    box: tuple[tuple[float, float], ...]

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "score": self.score, "box": [list(p) for p in self.box]}


@dataclass(frozen=True)
class OcrResult:
    """Normalised text (the dataset's OCR field) and every raw line, also those below threshold."""

    text: str
    lines: tuple[OcrLine, ...]


def reading_order(lines: list[OcrLine]) -> list[OcrLine]:
    """Top to bottom, left to right: lines whose vertical centres lie within half a line height
    of a row's first line share that row and are read left to right."""
    by_top = sorted(lines, key=lambda line: (_centre_y(line), _left(line)))
    rows: list[list[OcrLine]] = []
    for line in by_top:
        if rows and abs(_centre_y(line) - _centre_y(rows[-1][0])) <= _height(rows[-1][0]) / 2:
            rows[-1].append(line)
        else:
            rows.append([line])
    return [line for row in rows for line in sorted(row, key=_left)]


def ocr_text(lines: list[OcrLine], min_score: float) -> str:
    """Lowercase alphabetic tokens of the confident lines, in reading order, space separated."""
    kept = [line for line in reading_order(lines) if line.score >= min_score]
    return " ".join(word for line in kept for word in _WORD.findall(line.text.lower()))


def _centre_y(line: OcrLine) -> float:
    return sum(y for _, y in line.box) / len(line.box)


def _left(line: OcrLine) -> float:
    return min(x for x, _ in line.box)


def _height(line: OcrLine) -> float:
    ys = [y for _, y in line.box]
    return max(ys) - min(ys)


class OcrEngine:
    """RapidOCR with its bundled models named explicitly, so nothing is ever downloaded.

    `slot` picks one of several engines of the same settings in a process: each has its own
    onnxruntime sessions, so engines of different slots read images in parallel threads.
    """

    def __init__(self, config: OcrConfig | None = None, *, slot: int = 0):
        self.config = config or OcrConfig()
        self._engine = _rapidocr(self.config.det_side, self.config.threads, slot)
        # One onnxruntime session per engine: calls from several threads are serialised.
        self._lock = threading.Lock()

    def read(self, image: Image.Image) -> OcrResult:
        """OCR one RGB image."""
        with self._lock, subnormals_flushed():
            output = self._engine(np.asarray(image.convert("RGB")))
        if output.txts is None:
            return OcrResult("", ())
        lines = [
            OcrLine(str(text), round(float(score), 5), tuple((float(x), float(y)) for x, y in box))
            for text, score, box in zip(output.txts, output.scores, output.boxes, strict=True)
        ]
        ordered = reading_order(lines)
        return OcrResult(ocr_text(ordered, self.config.min_score), tuple(ordered))


@lru_cache(maxsize=8)
def _rapidocr(det_side: int, threads: int, slot: int) -> Any:
    """One RapidOCR instance per setting, slot and process (loading takes seconds)."""
    import rapidocr
    from rapidocr import RapidOCR

    models = Path(rapidocr.__file__).parent / "models"
    paths = {
        "Det": models / "PP-OCRv6_det_small.onnx",
        "Rec": models / "PP-OCRv6_rec_small.onnx",
        "Cls": models / "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    }
    for path in paths.values():
        if not path.is_file():
            raise FileNotFoundError(
                f"RapidOCR model {path} is missing: reinstall the pinned rapidocr wheel"
            )
    params: dict[str, Any] = {f"{task}.model_path": str(path) for task, path in paths.items()}
    params.update(
        {
            "Global.log_level": "error",
            "Global.use_cls": False,  # tweet text is upright; the angle classifier costs time
            "Det.limit_type": "max",
            "Det.limit_side_len": det_side,
        }
    )
    engine = RapidOCR(params=params)
    # RapidOCR's session options cannot carry onnxruntime's flush flag, which its intra-op
    # pool's threads need (they do not inherit the creating thread's flags: at 2 threads
    # detection took 108 ms without the flag, 33 with it), so it is handed ready sessions (its
    # "custom session" route); its config is an OmegaConf tree, which takes objects only when
    # allowed. Detection and recognition are what run (the angle classifier is off).
    engine.cfg._set_flag("allow_objects", True)
    with subnormals_flushed():
        for task in ("Det", "Rec"):
            engine.cfg[task].session = _onnx_session(paths[task], threads)
    return engine


@contextmanager
def subnormals_flushed() -> Iterator[None]:
    """This thread flushes subnormal floats to zero inside, and is as it was after.

    The detector's deepest 1x1 convolutions meet subnormals, which Intel cores compute many
    times slower: flushed, detection is 3.8x faster on a Xeon (241 -> 64 ms at 512 px, 1 thread)
    with the same text read (benchmarks/RESULTS.md, issue 21, session 7). With one intra-op
    thread onnxruntime computes on the caller's thread, so the caller's flags are what count;
    its own flag (`session.set_denormal_as_zero`) covers its pool's threads, but it also sets
    the flags of the thread that makes the session, and never clears them. Both are undone
    here: every other float on the thread (numpy, torch, Python) keeps its subnormals."""
    import torch

    flushing = flushes_subnormals()
    torch.set_flush_denormal(True)  # flush-to-zero and denormals-are-zero (MXCSR) on x86
    try:
        yield
    finally:
        if not flushing:
            torch.set_flush_denormal(False)


def flushes_subnormals() -> bool:
    """Whether this thread flushes subnormal floats to zero (1e-39 is one in float32)."""
    return float(np.float32(1e-39) * np.float32(1.0)) == 0.0


def _onnx_session(path: Path, threads: int) -> Any:
    """An onnxruntime CPU session for one of RapidOCR's models, with its settings chosen here."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # The arena keeps onnxruntime's buffers between images instead of allocating the
    # detector's activations afresh each time: 25% less CPU on photos, same outputs.
    options.enable_cpu_mem_arena = True
    # subnormals flushed on onnxruntime's own threads too (`subnormals_flushed`)
    options.add_session_config_entry("session.set_denormal_as_zero", "1")
    # The arena grows by what is asked, not by powers of two (RapidOCR's choice too).
    provider = ("CPUExecutionProvider", {"arena_extend_strategy": "kSameAsRequested"})
    return onnxruntime.InferenceSession(str(path), sess_options=options, providers=[provider])
