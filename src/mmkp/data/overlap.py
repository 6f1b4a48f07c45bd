"""Overlap between the training split and the splits that score it (dev, test).

A dev post that is also a training post makes dev scores measure memory, not
generalisation. `split_overlap` finds such posts by id and by identical text (whitespace
and case aside: the same tweet under another id) and returns one warning per split; a dev
or test split that *is* the training split (the same posts, e.g. the same file given twice)
is refused, since nothing it reports would mean anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from mmkp.data.record import Post

SHOWN = 5  # ids quoted in a warning


def split_overlap(
    train: Sequence[Post], dev: Sequence[Post], test: Sequence[Post] | None = None
) -> list[str]:
    """Warnings for dev/test posts found in `train` by id or by text (empty: no overlap).

    Raises ValueError when dev or test holds exactly the training posts (same ids with the
    same texts, in any order).
    """
    train_ids = {post.id for post in train}
    train_texts = {text_key(post.text) for post in train}
    splits = {"dev": dev} if test is None else {"dev": dev, "test": test}
    warnings = []
    for name, posts in splits.items():
        if posts and _same_posts(train, posts):
            raise ValueError(
                f"the {name} split holds exactly the {len(posts)} training posts: its scores "
                f"would be training scores; give a separate {name} file"
            )
        by_id = [post.id for post in posts if post.id in train_ids]
        by_text = [
            post.id
            for post in posts
            if post.id not in train_ids and text_key(post.text) in train_texts
        ]
        if by_id or by_text:
            warnings.append(_warning(name, len(posts), by_id, by_text))
    return warnings


def text_key(text: str) -> str:
    """What makes two texts the same post's: whitespace and case aside."""
    return " ".join(text.split()).casefold()


def _same_posts(a: Sequence[Post], b: Sequence[Post]) -> bool:
    return sorted((p.id, text_key(p.text)) for p in a) == sorted(
        (p.id, text_key(p.text)) for p in b
    )


def _warning(name: str, total: int, by_id: list[str], by_text: list[str]) -> str:
    parts = []
    if by_id:
        parts.append(f"{len(by_id)} share an id with a training post ({_preview(by_id)})")
    if by_text:
        parts.append(f"{len(by_text)} have a training post's text ({_preview(by_text)})")
    return (
        f"{len(by_id) + len(by_text)} of {total} {name} posts are training posts: "
        + "; ".join(parts)
        + f"; {name} scores overstate how the model does on new posts"
    )


def _preview(ids: list[str]) -> str:
    shown = ", ".join(map(repr, ids[:SHOWN]))
    return shown + (f", … (+{len(ids) - SHOWN} more)" if len(ids) > SHOWN else "")
