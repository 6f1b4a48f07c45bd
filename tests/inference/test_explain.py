"""The case figure (the paper's Fig. 3): sigmoid(A) lies exactly over the grid cells of the
image the CNN saw, OCR boxes sit at their pixels, gold keyphrases are bold, a second model
stands beside; `mmkp explain` writes figures (and pages) for a post or a posts file."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Polygon
from PIL import Image

from mmkp.cli.main import main
from mmkp.data.jsonl import read_posts
from mmkp.data.record import Entity, Post
from mmkp.data.synthetic import generate
from mmkp.decoding.generate import ScoredKeyphrase
from mmkp.inference.explain import Column, explain_figure, match_reading
from mmkp.inference.predictor import PredictionResult

from .conftest import save_tiny_checkpoint

WIDTH, HEIGHT = 350, 140  # not square: the grid must stretch with the image, as the CNN's
HOT = (2, 5)  # the one region the filter lets through


def result(region_scores: np.ndarray | None, ocr: list | None = None) -> PredictionResult:
    post = Post("p", "game day with the squad", ocr="game day",
                entities=[Entity("scoreboard", 0.62)], extra={"ocr_lines": ocr or []})  # fmt: skip
    keyphrases = [ScoredKeyphrase("game day", -0.1), ScoredKeyphrase("squad", -1.2)]
    return PredictionResult("p", keyphrases, 0.93, region_scores, post)


def one_hot() -> np.ndarray:
    scores = np.full((7, 7), -12.0, dtype=np.float32)  # sigmoid -> 0
    scores[HOT] = 12.0  # sigmoid -> 1
    return scores


def rendered(figure) -> np.ndarray:
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())


def pixel(rgba: np.ndarray, axes, x: float, y: float) -> np.ndarray:
    """The rendered RGB at image coordinates (x, y) of `axes` (display y grows upward)."""
    col, row = axes.transData.transform((x, y))
    return rgba[round(rgba.shape[0] - row), round(col), :3].astype(int)


def colour(value: float) -> np.ndarray:
    return np.round(np.array(colormaps["viridis"](value)[:3]) * 255).astype(int)


def test_the_heatmap_covers_the_image_cell_by_cell():
    image = Image.new("RGB", (WIDTH, HEIGHT), (128, 128, 128))
    figure = explain_figure(result(one_hot()), image, opacity=1.0)
    left = figure.axes[0]
    heat = left.images[-1]
    assert heat.get_extent() == [0, WIDTH, HEIGHT, 0]  # the whole image, row 0 at the top
    assert left.get_xlim() == (0, WIDTH) and left.get_ylim() == (HEIGHT, 0)
    cell_w, cell_h = WIDTH / 7, HEIGHT / 7
    rgba = rendered(figure)
    for row in range(7):
        for col in range(7):
            centre = ((col + 0.5) * cell_w, (row + 0.5) * cell_h)
            expected = colour(1.0 if (row, col) == HOT else 0.0)
            assert np.abs(pixel(rgba, left, *centre) - expected).max() <= 3, (row, col)
    # just inside the hot cell's edges: still hot; just outside: not
    r, c = HOT
    inside = ((c + 0.1) * cell_w, (r + 0.9) * cell_h)
    outside = ((c - 0.1) * cell_w, (r + 1.1) * cell_h)
    assert np.abs(pixel(rgba, left, *inside) - colour(1.0)).max() <= 3
    assert np.abs(pixel(rgba, left, *outside) - colour(0.0)).max() <= 3


def test_a_flat_filter_is_shown_over_its_own_range():
    scores = np.linspace(-0.13, -0.10, 49, dtype=np.float32).reshape(7, 7)  # as trained ones
    figure = explain_figure(result(scores), Image.new("RGB", (WIDTH, HEIGHT)))
    low, high = figure.axes[0].images[-1].get_clim()
    weights = 1 / (1 + np.exp(-scores))
    assert (low, high) == pytest.approx((weights.min(), weights.max()))
    assert "this post's range" in figure.axes[-1].get_ylabel()  # the colour bar says so


def test_ocr_boxes_text_gold_and_a_compared_model():
    box = [[40.0, 30.0], [200.0, 30.0], [200.0, 80.0], [40.0, 80.0]]
    lines = [{"text": "GAME DAY", "score": 0.99, "box": box}]
    other = PredictionResult("p", [ScoredKeyphrase("football", -0.5)], None, None, Post("p", "x"))
    figure = explain_figure(result(one_hot(), lines), Image.new("RGB", (WIDTH, HEIGHT)),
                            gold=["game days"], compare=Column("M3H-ATT", other))  # fmt: skip
    left, right = figure.axes[0], figure.axes[1]
    (polygon,) = [p for p in left.patches if isinstance(p, Polygon)]
    np.testing.assert_allclose(polygon.get_xy()[:4], box)
    assert "GAME DAY" in [t.get_text() for t in left.texts]
    texts = {t.get_text(): t for t in right.texts}
    assert texts["1. game day  (-0.10)"].get_weight() == "bold"  # matches "game days" by stem
    assert texts["2. squad  (-1.20)"].get_weight() == "normal"
    assert "M3H-ATT" in texts and "1. football  (-0.50)" in texts
    assert any("s_c = 0.93" in t and "related to the text" in t for t in texts)
    assert any("scoreboard (0.62)" in t for t in texts)


def test_match_reading_in_plain_words():
    assert match_reading(0.1) == "image unrelated to the text: the model relies on the text"
    assert match_reading(0.9).startswith("image related")
    assert "no image" in match_reading(None)


@pytest.mark.slow  # real OCR and efficientnet-lite0 over two generated images
def test_explain_cli_for_one_post_and_for_a_posts_file(tmp_path, one_thread):
    model = save_tiny_checkpoint(tmp_path / "model")
    data = generate(tmp_path / "data", n_train=0, n_dev=0, n_test=3, seed=1)
    post = read_posts(data.test)[0]
    out = tmp_path / "case.png"
    argv = ["explain", "--model", str(model), "--text", post.text, "--image",
            str(data.test.parent / post.image), "--gold", ";".join(post.keyphrases),
            "--out", str(out), "--compare", str(model), "--compare-name", "again"]  # fmt: skip
    assert main(argv) == 0
    with Image.open(out) as figure:
        assert figure.size == (1100, 460)
    folder = tmp_path / "cases"
    argv = ["explain", "--model", str(model), "--input", str(data.test), "--out", str(folder),
            "--html", "--limit", "2"]  # fmt: skip
    assert main(argv) == 0
    names = ["index.html", "test-00000.html", "test-00000.png", "test-00001.html", "test-00001.png"]
    assert sorted(p.name for p in folder.iterdir()) == names
    page = (folder / "test-00000.html").read_text()
    assert 'src="test-00000.png"' in page and "s_c</b>: 0." in page
    assert main(["explain", "--model", str(model), "--text", "hi", "--html", "--out", "x"]) == 2
