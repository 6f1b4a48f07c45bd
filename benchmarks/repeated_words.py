"""Score prediction files and count keyphrases that repeat a word (issue 24, `block_repeats`).

    .venv/bin/python benchmarks/repeated_words.py --gold DEV_POSTS PRED [PRED ...]

For each prediction file (`mmkp predict --out`, e.g. with and without
`--set decode.block_repeats=true`): dev F1@1 / F1@3 / MAP@5 through the package's evaluator
(as `mmkp evaluate` scores them) and the share of predicted keyphrases that hold a word twice
("profile profile pic"); the gold keyphrases' share is printed once for comparison.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence

from mmkp.evaluation.metrics import evaluate
from mmkp.evaluation.prediction_files import load_aligned

METRICS = ("F1@1", "F1@3", "MAP@5")


def repeats_a_word(keyphrase: str) -> bool:
    words = keyphrase.split()
    return len(set(words)) < len(words)


def repeated_share(keyphrase_lists: Iterable[Sequence[str]]) -> tuple[int, int]:
    """(keyphrases that repeat a word, all keyphrases) over every list."""
    phrases = [kp for kps in keyphrase_lists for kp in kps]
    return sum(map(repeats_a_word, phrases)), len(phrases)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gold", required=True, help="gold posts (.jsonl or `<sep>` text)")
    parser.add_argument("pred", nargs="+", help="prediction files")
    args = parser.parse_args()
    gold_printed = False
    print(f"{'predictions':<40}" + "".join(f"{m:>8}" for m in METRICS) + "  repeated")
    for path in args.pred:
        files = load_aligned(path, args.gold)
        if not gold_printed:
            hits, total = repeated_share(post.keyphrases for post in files.posts)
            print(f"{'gold keyphrases':<40}{'':>24}  {hits}/{total} = {100 * hits / total:.2f}%")
            gold_printed = True
        scores = evaluate(files.predictions, files.posts).scores
        hits, total = repeated_share(files.predictions)
        print(
            f"{path:<40}"
            + "".join(f"{scores[m]:8.2f}" for m in METRICS)
            + f"  {hits}/{total} = {100 * hits / total:.2f}%"
        )


if __name__ == "__main__":
    main()
