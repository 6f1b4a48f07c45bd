"""The MM-MKP `*_ocr_kw.txt` format: six `<sep>`-separated fields per line.

0: `POST <seg> OCR <seg> ENT1 ; ENT2 ; ...` (pre-tokenised, lowercased)
1: gold keyphrases separated by `;`   2: image URL
3: `tensor([[p_nomatch, p_match]])`    4: argmax of field 3 (0/1)   5: the entity string again
"""

from __future__ import annotations

import re
from pathlib import Path

from mmkp.data.errors import ErrorLog, RecordError
from mmkp.data.jsonl import iter_lines
from mmkp.data.record import Entity, Post

NUM_FIELDS = 6
_TENSOR = re.compile(r"tensor\(\[\[\s*([-+0-9.eE]+)\s*,\s*([-+0-9.eE]+)\s*\]\]\)")


def parse_source(field: str) -> tuple[str, str, list[str]]:
    """Split field 0 into (post text, OCR text, entity names)."""
    parts = field.split("<seg>")
    if len(parts) != 3:
        raise ValueError(f"field 0 must hold 'POST <seg> OCR <seg> ENTITIES', found {len(parts) - 1} <seg>")
    text, ocr, entities = (part.strip() for part in parts)
    names = [name.strip() for name in entities.split(" ; ") if name.strip()]
    return text, ocr, names


def parse_keyphrases(field: str) -> list[str]:
    return [kp.strip() for kp in field.split(";") if kp.strip()]


def parse_line(line: str, post_id: str) -> Post:
    fields = [f.strip() for f in line.split("<sep>")]
    if len(fields) != NUM_FIELDS:
        raise ValueError(f"expected {NUM_FIELDS} '<sep>'-separated fields, found {len(fields)}")
    text, ocr, names = parse_source(fields[0])
    keyphrases = parse_keyphrases(fields[1])
    if not keyphrases:
        raise ValueError("field 1 (keyphrases) is empty")
    probs = _TENSOR.fullmatch(fields[3])
    if probs is None:
        raise ValueError(f"field 3 must look like 'tensor([[p0, p1]])', got {fields[3]!r}")
    return Post(
        id=post_id,
        text=text,
        image=fields[2] or None,
        ocr=ocr,
        entities=[Entity(name) for name in names],
        keyphrases=keyphrases,
        match=float(probs.group(2)),
        extra={"match_label": int(fields[4])} if fields[4] in ("0", "1") else {},
    )


def read_ocr_kw(path: str | Path, errors: ErrorLog | None = None) -> list[Post]:
    """Read an `*_ocr_kw.txt` file; post ids are `<file stem>-<line number>`."""
    sink = ErrorLog() if errors is None else errors
    stem = Path(path).stem
    posts = []
    for number, line in iter_lines(path, sink):
        try:
            posts.append(parse_line(line, f"{stem}-{number}"))
        except ValueError as exc:
            sink.add(RecordError(path, number, str(exc)))
    if errors is None and sink.errors:
        raise sink.errors[0]
    return posts
