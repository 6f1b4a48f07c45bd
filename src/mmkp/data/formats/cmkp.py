"""The CMKP format (Wang et al., EMNLP 2020; github yuewang-cuhk/CMKP, `data/tw_mm_s1/`).

`*_src.txt`: one post per line, `POST<sep>KP1;KP2<sep>IMAGE_URL` (pre-tokenised post, gold
keyphrases separated by `;`, image URL or path). Aligned side files, same line numbers:
`*_ocr.txt` (raw OCR text) or `*_ocr_final.txt` (cleaned), empty line = no text;
`*_attribute*.txt` (five image attribute words). CMKP itself keeps the targets inside the
src file; an OpenNMT-style split layout is read with `trg=` (`*_trg.txt`, keyphrases
separated by `;`), and its src lines are then `POST` or `POST<sep>IMAGE`.
"""

from __future__ import annotations

from pathlib import Path

from mmkp.data.errors import ErrorLog, RecordError
from mmkp.data.formats.aligned import NumberedPosts, attach, attach_side_files
from mmkp.data.formats.ocr_kw import SEP, parse_keyphrases
from mmkp.data.jsonl import iter_lines
from mmkp.data.record import Post, check_post


def parse_src_line(line: str, post_id: str, *, with_targets: bool) -> Post:
    fields = [field.strip() for field in line.split(SEP)]
    if with_targets:
        if len(fields) != 3:
            raise ValueError(
                f"expected 'POST<sep>KEYPHRASES<sep>IMAGE', found {len(fields)} fields"
            )
        text, targets, image = fields
        keyphrases = parse_keyphrases(targets)
        if not keyphrases:
            raise ValueError("field 1 (keyphrases) is empty")
    else:
        if len(fields) > 2:
            raise ValueError(
                f"with a trg file, expected 'POST' or 'POST<sep>IMAGE', found {len(fields)} fields"
            )
        text, image, keyphrases = fields[0], fields[1] if len(fields) == 2 else "", []
    if not text:
        raise ValueError("the post text (field 0) is empty")
    return check_post(Post(id=post_id, text=text, image=image or None, keyphrases=keyphrases))


def _set_targets(post: Post, line: str) -> None:
    post.keyphrases = parse_keyphrases(line)


def read_cmkp(
    src: str | Path,
    errors: ErrorLog | None = None,
    *,
    trg: str | Path | None = None,
    ocr: str | Path | None = None,
    attribute: str | Path | None = None,
) -> list[Post]:
    """Read a CMKP `*_src.txt` (+ optional aligned files); ids are `<src stem>-<line>`.

    Bad lines of any file go to `errors` (or raise if `errors` is None); a post whose
    aligned line is missing or unreadable is dropped and reported.
    """
    sink = ErrorLog() if errors is None else errors
    stem = Path(src).stem
    numbered: NumberedPosts = []
    for number, line in iter_lines(src, sink):
        try:
            post = parse_src_line(line, f"{stem}-{number}", with_targets=trg is None)
        except ValueError as exc:
            sink.add(RecordError(src, number, str(exc)))
            continue
        numbered.append((number, post))
    if trg is not None:
        numbered = attach(numbered, trg, sink, _set_targets)
    numbered = attach_side_files(numbered, sink, ocr=ocr, attribute=attribute)
    if errors is None and sink.errors:
        raise sink.errors[0]
    return [post for _, post in numbered]
