"""The layout of the model's source X_T = X_S <seg> X_O <seg> X_E (eq. 1), in one place.

Post words, OCR words and visual entity names joined with " ; " as in the benchmark files.
Each `<seg>` opens the segment after it and carries that segment's type, so the types read
0..0 1 1..1 2 2..2. Both `<seg>` are kept when OCR or entities are switched off or empty (the
benchmark writes an empty OCR as `<seg>   <seg>` too), so the model always sees the same
three-part layout.

Image attributes (the CMKP model's image wordings, `TextOptions.attributes`) are a fourth
segment when asked for: X_S <seg> X_O <seg> X_E <seg> X_A, its `<seg>` and words typed like
the entities (both are words recognised in the image); a model tells X_A apart as what
follows the third `<seg>`. Without them X_T is exactly the three-part layout.
"""

from __future__ import annotations

from typing import Literal

from mmkp.data.record import Post

SEG = "<seg>"  # separates the three segments (a vocabulary special)
ENTITY_JOIN = " ; "  # between entity names, as in the dataset
TYPE_POST, TYPE_OCR, TYPE_ENTITY = 0, 1, 2  # segment types (the type embedding of eq. 1)
NUM_TYPES = 3
ATTRIBUTE_SEGMENT = 3  # X_A is what follows the third <seg>
ATTRIBUTES_FIELD = "attributes"  # the JSONL field / `extra` key of a post's attribute words
# Where X_A comes from: nowhere (no fourth segment), the attribute words given with the post
# (its `attributes` field, or a split's aligned `attribute` file), or the words of its entity
# names (on generated posts the local ImageNet recogniser's top labels).
AttributeSource = Literal["none", "given", "entities"]


def entity_tokens(post: Post) -> list[str]:
    return ENTITY_JOIN.join(post.entity_names).split()


def attribute_tokens(post: Post, source: AttributeSource) -> list[str] | None:
    """The words of X_A, None when `source` is "none"; a post without given attributes has an
    empty X_A (e.g. a raw post at prediction time)."""
    if source == "none":
        return None
    if source == "entities":
        return [word for name in post.entity_names for word in name.split()]
    given = post.extra.get(ATTRIBUTES_FIELD, [])
    if isinstance(given, str):
        return given.split()
    if not isinstance(given, list) or not all(isinstance(word, str) for word in given):
        raise ValueError(
            f"post {post.id!r}: {ATTRIBUTES_FIELD} must be a list of words or a string, "
            f"got {given!r}"
        )
    return [token for word in given for token in word.split()]


def source_tokens(
    post: Post,
    *,
    use_ocr: bool = True,
    use_entities: bool = True,
    attributes: AttributeSource = "none",
) -> list[str]:
    """The words of X_S, X_O, X_E and X_A (without `<seg>`), as counted for the vocabulary."""
    tokens = post.text.split()
    if use_ocr:
        tokens += post.ocr.split()
    if use_entities:
        tokens += entity_tokens(post)
    return tokens + (attribute_tokens(post, attributes) or [])


def source_text(post: Post) -> str:
    """X_T as one string, the benchmark's field 0 (what presence of a keyphrase is judged on)."""
    return f"{post.text} {SEG} {post.ocr} {SEG} {ENTITY_JOIN.join(post.entity_names)}"


def segments(
    post: Post,
    *,
    use_ocr: bool,
    use_entities: bool,
    max_src_len: int,
    attributes: AttributeSource = "none",
) -> tuple[list[str], list[str], list[str], list[str] | None]:
    """Post, OCR, entity and attribute tokens (None: no X_A), cut to fit `max_src_len` with
    the `<seg>`s.

    Cutting takes from the end of the OCR first (it is the long, noisy part), then the post,
    then the entities, then the attributes, so a long OCR text never pushes the entities out.
    """
    found = attribute_tokens(post, attributes)
    seps = 2 if found is None else 3
    if max_src_len < seps:
        raise ValueError(f"max_src_len must leave room for the {seps} {SEG}, got {max_src_len}")
    post_tokens = post.text.split()
    ocr = post.ocr.split() if use_ocr else []
    entities = entity_tokens(post) if use_entities else []
    parts = [ocr, post_tokens, entities, *([] if found is None else [found])]
    excess = sum(len(part) for part in parts) + seps - max_src_len
    for segment in parts:
        cut = min(max(excess, 0), len(segment))
        del segment[len(segment) - cut :]
        excess -= cut
    return post_tokens, ocr, entities, found


def joined(
    post_tokens: list[str],
    ocr: list[str],
    entities: list[str],
    attributes: list[str] | None = None,
) -> tuple[list[str], list[int]]:
    """The tokens of X_T and their segment types."""
    tokens = [*post_tokens, SEG, *ocr, SEG, *entities]
    types = [TYPE_POST] * len(post_tokens) + [TYPE_OCR] * (len(ocr) + 1)
    types += [TYPE_ENTITY] * (len(entities) + 1)
    if attributes is not None:
        tokens += [SEG, *attributes]
        types += [TYPE_ENTITY] * (len(attributes) + 1)
    return tokens, types
