"""The TRC text-image relationship CSV (Vempala & Preotiuc-Pietro, ACL 2019) + image folder.

Columns: tweet_id, user_id, tweet, text_is_represented, image_adds, and four R1-R4 flags.
Quotes inside the tweet are escaped with a backslash (`\\"`), which the reader honours.
Each row becomes a Post with id = tweet_id, text = `normalise(tweet)` without the final
`https://t.co/...` link (Twitter appends the image's own link there; it carries no words),
image = `<images>/T{tweet_id}.jpg` when that file exists, and
`extra["relevant"]` = image_adds (1: the image adds meaning), the label the image-text
matching loss trains on. The raw tweet, user id and the other label columns stay in `extra`.
There are no keyphrases: TRC posts feed L_itm only.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from mmkp.data.errors import ErrorLog, IdCheck, RecordError
from mmkp.data.jsonl import iter_lines
from mmkp.data.record import Post, check_post
from mmkp.data.tokenize import normalise
from mmkp.io import input_file

COLUMNS = (
    "tweet_id",
    "user_id",
    "tweet",
    "text_is_represented",
    "image_adds",
    "image_adds_text_repr",
    "image_adds_text_notrepr",
    "image_notadds_text_repr",
    "image_notadds_text_notrepr",
)
_FLAGS = COLUMNS[3:]
_MEDIA_LINK = re.compile(r"\s*https?://t\.co/\w+\s*$")


@dataclass
class TrcData:
    """Posts read from the CSV and the ids of rows whose image file was not found."""

    posts: list[Post] = field(default_factory=list)
    missing_images: list[str] = field(default_factory=list)


def parse_row(line: str, images: Path | None) -> Post:
    row = next(csv.reader([line], escapechar="\\"))
    if len(row) != len(COLUMNS):
        raise ValueError(f"expected {len(COLUMNS)} columns, found {len(row)}")
    values = dict(zip(COLUMNS, row, strict=True))
    if not values["tweet_id"].isdigit():
        raise ValueError(f"tweet_id must be a number, got {values['tweet_id']!r}")
    for name in _FLAGS:
        if values[name] not in ("0", "1"):
            raise ValueError(f"column {name!r} must be 0 or 1, got {values[name]!r}")
    tweet_id = values["tweet_id"]
    image = images / f"T{tweet_id}.jpg" if images is not None else None
    extra: dict[str, object] = {"relevant": int(values["image_adds"])}
    extra |= {"user_id": values["user_id"], "raw_text": values["tweet"]}
    extra |= {name: int(values[name]) for name in _FLAGS if name != "image_adds"}
    post = Post(
        id=tweet_id,
        text=normalise(_MEDIA_LINK.sub("", values["tweet"])),
        image=str(image) if image is not None and image.is_file() else None,
        extra=extra,
    )
    return check_post(post)


def read_trc(
    path: str | Path,
    images: str | Path | None = None,
    errors: ErrorLog | None = None,
    *,
    drop_missing: bool = False,
) -> TrcData:
    """Read the CSV; bad rows go to `errors` (or raise if `errors` is None).

    Rows whose `T{tweet_id}.jpg` is not in `images` are listed in `missing_images` and kept
    with `image=None` (they still train nothing that needs the image: `has_image` is False),
    or left out with `drop_missing=True`.
    """
    sink = ErrorLog() if errors is None else errors
    folder = None if images is None else Path(images)
    if folder is not None and not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such image folder")
    data = TrcData()
    ids = IdCheck(path)
    for number, line in iter_lines(input_file(path), sink):
        if number == 1 and line.lstrip('"').startswith("tweet_id"):
            continue
        try:
            post = parse_row(line, folder)
            ids.check(post.id, number)
        except RecordError as exc:
            sink.add(exc)
            continue
        except (ValueError, csv.Error) as exc:
            sink.add(RecordError(path, number, str(exc)))
            continue
        if post.image is None:
            data.missing_images.append(post.id)
            if drop_missing:
                continue
        data.posts.append(post)
    if errors is None and sink.errors:
        raise sink.errors[0]
    return data
