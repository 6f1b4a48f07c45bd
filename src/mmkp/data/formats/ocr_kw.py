"""The MM-MKP `*_ocr_kw.txt` format: six `<sep>`-separated fields per line.

0: `POST <seg> OCR <seg> ENT1 ; ENT2 ; ...` (pre-tokenised, lowercased)
1: gold keyphrases separated by `;`   2: image URL
3: `tensor([[p_nomatch, p_match]])`    4: argmax of field 3 (0/1)   5: the entity string again

Round trip (file -> Post/JSONL -> file) reproduces every field after stripping it: field 0
is rebuilt from text, OCR and entities with the benchmark's spacing (an empty OCR is written
`<seg>   <seg>`), field 3's exact string is kept in `extra["match_tensor"]`, field 4 in
`extra["match_label"]`; a field 0 or 5 that the rebuilding would not reproduce (unusual
spacing) is kept verbatim in `extra["ocr_kw_source"]` / `extra["ocr_kw_entities"]`.
Fields 3 and 4 may be empty (no match probability / label).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from mmkp.data.errors import ErrorLog, RecordError
from mmkp.data.formats.aligned import NumberedPosts, attach_side_files
from mmkp.data.jsonl import iter_lines
from mmkp.data.layout import ENTITY_JOIN, SEG
from mmkp.data.record import Entity, Post, check_post
from mmkp.io import atomic_open

NUM_FIELDS = 6
SEP = "<sep>"  # between the fields of a line
_TENSOR = re.compile(r"tensor\(\[\[\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*\]\]\)")
RAW_SOURCE, RAW_ENTITIES, RAW_TENSOR = "ocr_kw_source", "ocr_kw_entities", "match_tensor"


def parse_source(field: str) -> tuple[str, str, list[str]]:
    """Split field 0 into (post text, OCR text, entity names)."""
    parts = field.split(SEG)
    if len(parts) != 3:
        raise ValueError(
            f"field 0 must hold 'POST <seg> OCR <seg> ENTITIES', found {len(parts) - 1} <seg>"
        )
    text, ocr, entities = (part.strip() for part in parts)
    return text, ocr, parse_entities(entities)


def parse_entities(field: str) -> list[str]:
    return [name.strip() for name in field.split(ENTITY_JOIN) if name.strip()]


def format_source(text: str, ocr: str, names: list[str]) -> str:
    """Field 0 as the benchmark writes it (the inverse of `parse_source`)."""
    return f"{text} {SEG} {ocr or ' '} {SEG} {ENTITY_JOIN.join(names)}".strip()


def parse_keyphrases(field: str) -> list[str]:
    return [kp.strip() for kp in field.split(";") if kp.strip()]


def _match(fields: list[str]) -> tuple[float | None, dict[str, object]]:
    """Fields 3-4 -> (p_match, extra entries keeping their exact text)."""
    extra: dict[str, object] = {}
    match = None
    if fields[3]:
        probs = _TENSOR.fullmatch(fields[3])
        if probs is None:
            raise ValueError(f"field 3 must look like 'tensor([[p0, p1]])', got {fields[3]!r}")
        match = float(probs.group(2))
        if not 0 <= match <= 1:
            raise ValueError(f"field 3's match probability must be in [0, 1], got {match}")
        extra[RAW_TENSOR] = fields[3]
    if fields[4]:
        if fields[4] not in ("0", "1"):
            raise ValueError(f"field 4 (match label) must be 0 or 1, got {fields[4]!r}")
        extra["match_label"] = int(fields[4])
    return match, extra


def parse_line(line: str, post_id: str) -> Post:
    fields = [f.strip() for f in line.split(SEP)]
    if len(fields) != NUM_FIELDS:
        raise ValueError(f"expected {NUM_FIELDS} '<sep>'-separated fields, found {len(fields)}")
    text, ocr, names = parse_source(fields[0])
    keyphrases = parse_keyphrases(fields[1])
    if not keyphrases:
        raise ValueError("field 1 (keyphrases) is empty")
    match, extra = _match(fields)
    if format_source(text, ocr, names) != fields[0]:
        extra[RAW_SOURCE] = fields[0]
    if ENTITY_JOIN.join(names) != fields[5]:
        extra[RAW_ENTITIES] = fields[5]
    post = Post(
        id=post_id,
        text=text,
        image=fields[2] or None,
        ocr=ocr,
        entities=[Entity(name) for name in names],
        keyphrases=keyphrases,
        match=match,
        extra=extra,
    )
    return check_post(post)


def read_numbered(path: str | Path, errors: ErrorLog) -> NumberedPosts:
    stem = Path(path).stem
    numbered = []
    for number, line in iter_lines(path, errors):
        try:
            numbered.append((number, parse_line(line, f"{stem}-{number}")))
        except ValueError as exc:
            errors.add(RecordError(path, number, str(exc)))
    return numbered


def read_ocr_kw(
    path: str | Path,
    errors: ErrorLog | None = None,
    *,
    attribute: str | Path | None = None,
) -> list[Post]:
    """Read an `*_ocr_kw.txt` file; post ids are `<file stem>-<line number>`.

    `attribute`: an aligned attribute-words file (e.g. `valid_attribute.txt`), kept in
    `extra["attributes"]`. Bad lines go to `errors` (or raise if `errors` is None).
    """
    sink = ErrorLog() if errors is None else errors
    numbered = attach_side_files(read_numbered(path, sink), sink, attribute=attribute)
    if errors is None and sink.errors:
        raise sink.errors[0]
    return [post for _, post in numbered]


def _check(post: Post, name: str, value: str, forbidden: tuple[str, ...]) -> str:
    for token in forbidden:
        if token in value:
            raise ValueError(f"post {post.id!r}: {name} contains {token!r}: {value!r}")
    return value


def _field3(post: Post) -> str:
    raw = post.extra.get(RAW_TENSOR)
    if isinstance(raw, str) and (m := _TENSOR.fullmatch(raw)) and float(m.group(2)) == post.match:
        return raw
    return "" if post.match is None else f"tensor([[{1 - post.match:.4f}, {post.match:.4f}]])"


def _nonempty(values: list[str]) -> list[str]:
    return [value.strip() for value in values if value.strip()]


def format_line(post: Post) -> str:
    """One line for a post; raises ValueError naming the post if it cannot be written."""
    breaks = (SEP, "\n", "\r")
    if not _nonempty(post.keyphrases):
        raise ValueError(f"post {post.id!r}: the ocr_kw format needs keyphrases (use JSONL)")
    text = _check(post, "text", post.text.strip(), (*breaks, SEG))
    ocr = _check(post, "ocr", post.ocr.strip(), (*breaks, SEG))
    names = [
        _check(post, "entity", n, (*breaks, SEG, ENTITY_JOIN)) for n in _nonempty(post.entity_names)
    ]
    keyphrases = [
        _check(post, "keyphrase", kp, (*breaks, ";")) for kp in _nonempty(post.keyphrases)
    ]
    source = format_source(text, ocr, names)
    raw = post.extra.get(RAW_SOURCE)
    if isinstance(raw, str) and parse_source(raw) == (text, ocr, names):
        source = raw
    raw_entities = post.extra.get(RAW_ENTITIES)
    entities = ENTITY_JOIN.join(names)
    if isinstance(raw_entities, str) and parse_entities(raw_entities) == names:
        entities = raw_entities
    label = post.extra.get("match_label")
    fields = [
        source,
        ";".join(keyphrases),
        _check(post, "image", post.image or "", breaks),
        _field3(post),
        str(label) if label in (0, 1) else "",
        entities,
    ]
    return SEP.join(fields)


def write_ocr_kw(path: str | Path, posts: Iterable[Post]) -> int:
    """Write posts atomically in the `*_ocr_kw.txt` format; returns how many were written.

    Lost on the way (the format has no place for them): post ids, entity scores, image
    paths' base directory and unknown `extra` fields.
    """
    count = 0
    with atomic_open(path) as handle:
        for post in posts:
            handle.write(format_line(post) + "\n")
            count += 1
    return count
