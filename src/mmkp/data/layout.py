"""The layout of the model's source X_T = X_S <seg> X_O <seg> X_E (eq. 1), in one place.

Post words, OCR words and visual entity names joined with " ; " as in the benchmark files.
Each `<seg>` opens the segment after it and carries that segment's type, so the types read
0..0 1 1..1 2 2..2. Both `<seg>` are kept when OCR or entities are switched off or empty (the
benchmark writes an empty OCR as `<seg>   <seg>` too), so the model always sees the same
three-part layout.
"""

from __future__ import annotations

from mmkp.data.record import Post

SEG = "<seg>"  # separates the three segments (a vocabulary special)
ENTITY_JOIN = " ; "  # between entity names, as in the dataset
TYPE_POST, TYPE_OCR, TYPE_ENTITY = 0, 1, 2  # segment types (the type embedding of eq. 1)
NUM_TYPES = 3


def entity_tokens(post: Post) -> list[str]:
    return ENTITY_JOIN.join(post.entity_names).split()


def source_tokens(post: Post, *, use_ocr: bool = True, use_entities: bool = True) -> list[str]:
    """The words of X_S, X_O and X_E (without `<seg>`), as counted for the vocabulary."""
    tokens = post.text.split()
    if use_ocr:
        tokens += post.ocr.split()
    if use_entities:
        tokens += entity_tokens(post)
    return tokens


def source_text(post: Post) -> str:
    """X_T as one string, the benchmark's field 0 (what presence of a keyphrase is judged on)."""
    return f"{post.text} {SEG} {post.ocr} {SEG} {ENTITY_JOIN.join(post.entity_names)}"


def segments(
    post: Post, *, use_ocr: bool, use_entities: bool, max_src_len: int
) -> tuple[list[str], list[str], list[str]]:
    """Post, OCR and entity tokens, cut to fit `max_src_len` with the two `<seg>`.

    Cutting takes from the end of the OCR first (it is the long, noisy part), then the post,
    then the entities, so a long OCR text never pushes the entities out.
    """
    if max_src_len < 2:
        raise ValueError(f"max_src_len must leave room for the two {SEG}, got {max_src_len}")
    post_tokens = post.text.split()
    ocr = post.ocr.split() if use_ocr else []
    entities = entity_tokens(post) if use_entities else []
    excess = len(post_tokens) + len(ocr) + len(entities) + 2 - max_src_len
    for segment in (ocr, post_tokens, entities):
        cut = min(max(excess, 0), len(segment))
        del segment[len(segment) - cut :]
        excess -= cut
    return post_tokens, ocr, entities


def joined(
    post_tokens: list[str], ocr: list[str], entities: list[str]
) -> tuple[list[str], list[int]]:
    """The tokens of X_T and their segment types."""
    tokens = [*post_tokens, SEG, *ocr, SEG, *entities]
    types = [TYPE_POST] * len(post_tokens) + [TYPE_OCR] * (len(ocr) + 1)
    types += [TYPE_ENTITY] * (len(entities) + 1)
    return tokens, types
