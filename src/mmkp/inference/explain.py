"""The paper's case-study figure (Fig. 3) for one prediction: the image with the region
weights sigmoid(A) over it, the text, OCR and entities, the keyphrases and s_c.

    result = predictor.predict(text, image="a.jpg")
    figure = explain_figure(result, Image.open("a.jpg"), gold=["game day"])
    figure.savefig("case.png")   # a matplotlib Figure, made without pyplot (no global state)

The 7x7 grid is drawn over the whole image, coloured over the post's own range of weights
(`colour_range`; the colour bar gives the values): the CNN reads the image resized to a square
(`mmkp.features.grid.preprocess`, aspect not kept), so region (r, c) covers columns
c/7..(c+1)/7 and rows r/7..(r+1)/7 of the image whatever its size. OCR boxes are in image
pixels. Keyphrases that match a gold one (Porter stems, as the evaluation matches) are bold.
`compare` adds a second model's keyphrases beside them, as the paper sets MM-MKP beside
M3H-ATT. `case_page` is the same case as an HTML page around the saved PNG.
"""

from __future__ import annotations

import html
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Polygon
from PIL import Image

from mmkp.evaluation.phrase_match import stem_phrase
from mmkp.inference.predictor import PredictionResult

CMAP = "viridis"
OCR_MIN_SCORE = 0.8  # the OCR threshold of `mmkp.features.ocr.OcrConfig`: fainter lines


@dataclass(frozen=True)
class Column:
    """One model's keyphrases in the figure."""

    name: str
    result: PredictionResult


def match_reading(score: float | None) -> str:
    """s_c in plain words (the page says the same)."""
    if score is None:
        return "no image-text match score (no image, or the model has no matcher)"
    if score >= 0.6:
        return "image related to the text: the model uses the image"
    if score >= 0.3:
        return "image partly related to the text"
    return "image unrelated to the text: the model relies on the text"


def colour_range(regions: np.ndarray) -> tuple[float, float]:
    """The post's own range of sigmoid(A): a trained filter moves the weights by a few
    hundredths around one level, so a fixed 0..1 scale would show a flat image."""
    low, high = float(regions.min()), float(regions.max())
    if high - low < 1e-6:
        return low - 0.5e-6, high + 0.5e-6
    return low, high


def is_gold(keyphrase: str, gold: Sequence[str]) -> bool:
    return stem_phrase(keyphrase) in {stem_phrase(g) for g in gold}


def explain_figure(
    result: PredictionResult,
    image: Image.Image | None,
    *,
    gold: Sequence[str] = (),
    model: str = "MM-MKP",
    compare: Column | None = None,
    opacity: float = 0.5,
) -> Figure:
    """The case figure: the image with sigmoid(A) and OCR boxes (left), the post and the
    keyphrases of `model` (and of `compare`) with gold ones in bold (right)."""
    figure = Figure(figsize=(11, 4.6), dpi=100, layout="constrained")
    left, right = figure.subplots(1, 2, width_ratios=[1.0, 1.25])
    draw_image(left, result, image, opacity)
    right.set_axis_off()
    columns = [Column(model, result), *([compare] if compare is not None else [])]
    _draw_text(right, result, columns, gold)
    if result.regions is not None and image is not None:
        mappable = left.images[-1]
        label = "region weight σ(A), this post's range"
        figure.colorbar(mappable, ax=left, fraction=0.046, pad=0.02, label=label)
    return figure


def draw_image(
    axes: Axes, result: PredictionResult, image: Image.Image | None, opacity: float
) -> None:
    """The image, the 7x7 sigmoid(A) over its full extent, and the OCR boxes, in pixels."""
    axes.set_axis_off()
    if image is None:
        axes.text(0.5, 0.5, "no image", ha="center", va="center", transform=axes.transAxes)
        return
    width, height = image.size
    axes.imshow(np.asarray(image.convert("RGB")), extent=(0, width, height, 0))
    regions = result.regions
    if regions is not None:
        low, high = colour_range(regions)
        axes.imshow(
            regions,
            extent=(0, width, height, 0),  # row 0 at the top, as the CNN's map
            cmap=CMAP,
            vmin=low,
            vmax=high,
            alpha=opacity,
            interpolation="nearest",
        )
    for line in result.ocr:
        faint = line.score < OCR_MIN_SCORE
        colour = (1.0, 0.23, 0.19, 0.5 if faint else 1.0)
        axes.add_patch(Polygon(line.box, closed=True, fill=False, edgecolor=colour, linewidth=2))
        x, y = line.box[0]
        axes.text(x, y - 3, line.text, color="white", fontsize=8, va="bottom",
                  bbox={"facecolor": colour, "edgecolor": "none", "pad": 1})  # fmt: skip
    axes.set_xlim(0, width)
    axes.set_ylim(height, 0)
    title = "image" if regions is None else "image with region weights σ(A) (7×7)"
    axes.set_title(title, fontsize=10)


def _draw_text(
    axes: Axes,
    result: PredictionResult,
    columns: Sequence[Column],
    gold: Sequence[str],
) -> None:
    post = result.post
    lines: list[tuple[str, dict]] = [
        (_wrap("text: " + post.text), {"fontsize": 10}),
        (_wrap("OCR: " + (post.ocr or "–")), {"fontsize": 10}),
        (_wrap("entities: " + (_entities(result) or "–")), {"fontsize": 10}),
    ]
    if result.match_score is not None:
        reading = f"s_c = {result.match_score:.2f}: {match_reading(result.match_score)}"
        lines.append((_wrap(reading), {"fontsize": 10, "style": "italic"}))
    if gold:
        lines.append((_wrap("gold: " + "; ".join(gold)), {"fontsize": 10}))
    y = 0.98
    for text, style in lines:
        axes.text(0.0, y, text, va="top", transform=axes.transAxes, **style)
        y -= 0.075 * (text.count("\n") + 1)
    y -= 0.03
    width = 1.0 / len(columns)
    for i, column in enumerate(columns):
        x = i * width
        axes.text(x, y, column.name, va="top", fontsize=11, weight="bold",
                  transform=axes.transAxes)  # fmt: skip
        for rank, kp in enumerate(column.result.keyphrases, 1):
            weight = "bold" if gold and is_gold(kp.text, gold) else "normal"
            axes.text(x, y - 0.07 * rank, f"{rank}. {kp.text}  ({kp.score:.2f})", va="top",
                      fontsize=10, weight=weight, transform=axes.transAxes)  # fmt: skip


def _entities(result: PredictionResult) -> str:
    return ", ".join(
        e.name if e.score is None else f"{e.name} ({e.score:.2f})" for e in result.entities
    )


def _wrap(text: str, width: int = 70) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def case_page(
    result: PredictionResult, figure_file: str, *, gold: Sequence[str] = (), title: str = ""
) -> str:
    """One case as a small HTML page around its figure (`mmkp explain --html`)."""
    rows = "".join(
        f"<tr><td>{rank}</td><td>{'<b>' if gold and is_gold(kp.text, gold) else ''}"
        f"{html.escape(kp.text)}{'</b>' if gold and is_gold(kp.text, gold) else ''}</td>"
        f"<td>{kp.score:.3f}</td></tr>"
        for rank, kp in enumerate(result.keyphrases, 1)
    )
    match = "" if result.match_score is None else f"{result.match_score:.3f}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title or result.id)}</title>
<style>body{{font:15px system-ui,sans-serif;max-width:1100px;margin:20px auto}}
img{{max-width:100%}}td{{padding:2px 10px}}</style></head><body>
<h1>{html.escape(title or result.id)}</h1>
<img src="{html.escape(figure_file)}" alt="case figure">
<p><b>text</b>: {html.escape(result.post.text)}<br><b>OCR</b>: {html.escape(result.post.ocr)}<br>
<b>entities</b>: {html.escape(_entities(result))}<br>
<b>s_c</b>: {match} ({html.escape(match_reading(result.match_score))})<br>
<b>gold</b>: {html.escape("; ".join(gold))}</p>
<table><tr><th>#</th><th>keyphrase</th><th>score</th></tr>{rows}</table>
</body></html>
"""
