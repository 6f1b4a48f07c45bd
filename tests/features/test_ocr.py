from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from mmkp.features.ocr import (
    OcrConfig,
    OcrEngine,
    OcrLine,
    flushes_subnormals,
    ocr_text,
    reading_order,
    subnormals_flushed,
)

from .conftest import photo, text_image


def _line(text: str, x: float, y: float, score: float = 0.99, h: float = 20) -> OcrLine:
    return OcrLine(text, score, ((x, y), (x + 50, y), (x + 50, y + h), (x, y + h)))


def test_reading_order_rows_then_left_to_right() -> None:
    lines = [
        _line("second", 10, 100),
        _line("right", 200, 12),  # same row as "left", slightly lower
        _line("left", 10, 5),
    ]
    assert [line.text for line in reading_order(lines)] == ["left", "right", "second"]


def test_ocr_text_lowercase_alphabetic_and_threshold() -> None:
    lines = [
        _line("World Cup 2026!", 10, 60),
        _line("KIDS' Choice", 10, 10),
        _line("0", 10, 120, score=0.73),  # RapidOCR's typical false read on photos
    ]
    assert ocr_text(lines, 0.8) == "kids choice world cup"
    assert ocr_text(lines, 0.5) == "kids choice world cup"  # "0" has no letters either
    assert ocr_text([_line("Hello", 0, 0, score=0.79)], 0.8) == ""


@pytest.fixture(scope="module")
def engine() -> OcrEngine:
    return OcrEngine(OcrConfig())


def test_reads_rendered_text(engine: OcrEngine) -> None:
    result = engine.read(text_image(["Kids Choice Awards", "World Cup 2026"]))
    assert result.text == "kids choice awards world cup"
    assert [line.text for line in result.lines] == ["Kids Choice Awards", "World Cup 2026"]
    first = result.lines[0]
    assert first.score > 0.9 and len(first.box) == 4
    assert first.to_json()["text"] == "Kids Choice Awards"


def test_photo_without_text_gives_empty_ocr(engine: OcrEngine) -> None:
    for name in ("chelsea", "coffee"):
        assert engine.read(photo(name)).text == ""


def test_blank_and_tiny_images(engine: OcrEngine) -> None:
    assert engine.read(Image.new("RGB", (200, 100), "white")).lines == ()
    assert engine.read(Image.new("RGB", (2, 2), "black")).text == ""


def test_rapidocr_runs_our_sessions_which_flush_subnormals(engine: OcrEngine) -> None:
    """Subnormal floats in the detector cost Intel cores ~4x its time: RapidOCR must run the
    sessions `ocr` made (its custom-session route), set to flush them, at the set threads."""
    engine.read(text_image(["Flush"]))  # RapidOCR builds its detector and recogniser lazily
    rapid = engine._engine
    for task, runner in (("Det", rapid.text_det), ("Rec", rapid.text_rec)):
        session = runner.session.session
        assert session is rapid.cfg[task].session
        options = session.get_session_options()
        assert options.get_session_config_entry("session.set_denormal_as_zero") == "1"
        assert options.intra_op_num_threads == OcrConfig().threads
        assert options.enable_cpu_mem_arena


def test_the_calling_thread_keeps_its_subnormals() -> None:
    """onnxruntime sets flush-to-zero on the threads that make and run a session; OCR must
    not leave it set, or every later float on the caller's thread would flush."""
    assert not flushes_subnormals()
    with subnormals_flushed():  # what OCR computes in: the detector's speed on Intel cores
        assert flushes_subnormals()
    assert not flushes_subnormals()
    engine = OcrEngine(OcrConfig(det_side=480))  # a new engine: its sessions made here
    assert not flushes_subnormals()
    assert engine.read(text_image(["Subnormal"])).text == "subnormal"
    assert not flushes_subnormals()
    worker = ThreadPoolExecutor(1)
    assert worker.submit(lambda: engine.read(text_image(["Thread"])).text).result() == "thread"
    assert not worker.submit(flushes_subnormals).result()
    worker.shutdown()
    assert 5e-324 * 1.0 != 0.0  # Python's own floats too
