import pytest

from mmkp.data.errors import ErrorLog, RecordError
from mmkp.data.formats.ocr_kw import read_ocr_kw, write_ocr_kw
from mmkp.data.jsonl import read_posts, write_posts
from mmkp.data.record import Entity, Post

LINES = [
    "so excited at kca ! <seg>   <seg> group photo ; tv screen <sep>kca <sep>http://x/1.jpg"
    "<sep>tensor([[0.1056, 0.8944]])<sep>1<sep>group photo ; tv screen",
    "ozil is back . <seg> march madness <seg> mesut \u00f6zil ; nike, inc. <sep>arsenal;mufc"
    "<sep>http://x/2.jpg<sep>tensor([[9.9983e-01, 1.7264e-04]])<sep>0"
    "<sep>mesut \u00f6zil ; nike, inc. ",
    "no image no match <seg>   <seg> <sep>a b<sep><sep><sep><sep>",
]


def fields(line: str) -> list[str]:
    return [field.strip() for field in line.split("<sep>")]


def round_trip(src, tmp_path):
    posts = read_ocr_kw(src)
    write_posts(tmp_path / "posts.jsonl", posts)
    write_ocr_kw(tmp_path / "back.txt", read_posts(tmp_path / "posts.jsonl"))
    return posts, (tmp_path / "back.txt").read_text(encoding="utf-8").splitlines()


def test_generated_file_round_trips_field_by_field(tmp_path):
    src = tmp_path / "tiny_ocr_kw.txt"
    src.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    posts, back = round_trip(src, tmp_path)
    assert [fields(line) for line in back] == [fields(line) for line in LINES]
    assert back[0] == (
        "so excited at kca ! <seg>   <seg> group photo ; tv screen<sep>kca<sep>http://x/1.jpg"
        "<sep>tensor([[0.1056, 0.8944]])<sep>1<sep>group photo ; tv screen"
    )
    first, second, third = posts
    assert (first.id, first.ocr, first.match, first.extra["match_label"]) == (
        "tiny_ocr_kw-1",
        "",
        0.8944,
        1,
    )
    assert second.entity_names == ["mesut \u00f6zil", "nike, inc."]
    assert second.keyphrases == ["arsenal", "mufc"] and second.match == pytest.approx(1.7264e-04)
    assert (third.image, third.match, third.entities, third.extra) == (None, None, [], {})


def test_shared_valid_file_round_trips_field_by_field(shared_dir, tmp_path):
    src = shared_dir / "data" / "cmkp" / "valid_ocr_kw.txt"
    posts, back = round_trip(src, tmp_path)
    original = src.read_text(encoding="utf-8").splitlines()
    assert len(posts) == len(back) == len(original) == 5370
    assert [fields(line) for line in back] == [fields(line) for line in original]


def test_bad_lines_are_reported_with_file_and_line_and_skipped(tmp_path):
    src = tmp_path / "bad.txt"
    bad = [
        LINES[0],
        "only <seg> two <seg> segs <sep>kp<sep>u<sep>tensor([[0.5, 0.5]])<sep>1",
        "a <seg> b <seg> c <sep> <sep>u<sep>tensor([[0.5, 0.5]])<sep>1<sep>c",
        "a <seg> b <seg> c <sep>kp<sep>u<sep>tensor(0.5)<sep>1<sep>c",
        "a <seg> b <seg> c <sep>kp<sep>u<sep>tensor([[0.5, 0.5]])<sep>yes<sep>c",
        "a b <seg> c <sep>kp<sep>u<sep><sep><sep>",
    ]
    src.write_bytes(
        ("\n".join(bad) + "\n").encode()
        + b"caf\xe9 <seg> <seg> <sep>k<sep><sep><sep><sep>\n"
        + LINES[1].encode()
    )
    errors = ErrorLog()
    posts = read_ocr_kw(src, errors)
    assert [post.id for post in posts] == ["bad-1", "bad-8"]
    assert [str(error) for error in errors.errors] == [
        f"{src}:2: expected 6 '<sep>'-separated fields, found 5",
        f"{src}:3: field 1 (keyphrases) is empty",
        f"{src}:4: field 3 must look like 'tensor([[p0, p1]])', got 'tensor(0.5)'",
        f"{src}:5: field 4 (match label) must be 0 or 1, got 'yes'",
        f"{src}:6: field 0 must hold 'POST <seg> OCR <seg> ENTITIES', found 1 <seg>",
        f"{src}:7: not valid UTF-8 (invalid continuation byte at byte 3)",
    ]
    with pytest.raises(RecordError, match=r"bad\.txt:2: expected 6"):
        read_ocr_kw(src)


def test_attribute_file_is_attached_by_line(tmp_path):
    src = tmp_path / "a_ocr_kw.txt"
    src.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    attributes = tmp_path / "a_attribute.txt"
    attributes.write_text("man shirt\nsky\n", encoding="utf-8")
    errors = ErrorLog()
    posts = read_ocr_kw(src, errors, attribute=attributes)
    assert [post.extra["attributes"] for post in posts] == [["man", "shirt"], ["sky"]]
    assert [str(e) for e in errors.errors] == [
        f"{attributes}:3: has 2 lines, no line for the post on line 3"
    ]


def test_writer_refuses_what_the_format_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="post 'p': the ocr_kw format needs keyphrases"):
        write_ocr_kw(tmp_path / "x.txt", [Post("p", "text")])
    with pytest.raises(ValueError, match="post 'q': text contains '<sep>'"):
        write_ocr_kw(tmp_path / "x.txt", [Post("q", "a <sep> b", keyphrases=["k"])])
    post = Post("r", "t", entities=[Entity("cat", 0.5)], keyphrases=["k"], match=0.25)
    write_ocr_kw(tmp_path / "y.txt", [post])
    line = (tmp_path / "y.txt").read_text(encoding="utf-8")
    assert line == "t <seg>   <seg> cat<sep>k<sep><sep>tensor([[0.7500, 0.2500]])<sep><sep>cat\n"
