import argparse

import pytest

from mmkp.cli import convert
from mmkp.data.errors import ErrorLog
from mmkp.data.formats import load_posts, sniff
from mmkp.data.formats.cmkp import read_cmkp
from mmkp.data.formats.trc import read_trc
from mmkp.data.jsonl import read_posts

SRC = [
    "so excited at kca !<sep>kca<sep>https://pbs.twimg.com/media/a.jpg",
    "save hakeem now<sep>save hakeem;football<sep>https://pbs.twimg.com/media/b.jpg",
    "no targets here<sep>https://pbs.twimg.com/media/c.jpg",
    "last post<sep>kp<sep>img/d.jpg",
]
CSV = [
    '"tweet_id","user_id","tweet","text_is_represented","image_adds","image_adds_text_repr",'
    '"image_adds_text_notrepr","image_notadds_text_repr","image_notadds_text_notrepr"',
    '"11","7","RT @GMA: \\"Dearly beloved\\" #RIPPrince https://t.co/hkmBrhxdmu","1","1","1","0","0","0"',
    '"12","8","Just chillin... https://t.co/S4CDWGS4lm","0","0","0","0","0","1"',
    '"13","9","bad label","0","2","0","0","0","1"',
    '"14","9","too few","0"',
]


def write(path, lines, tail=b""):
    path.write_bytes(("\n".join(lines) + "\n").encode() + tail)
    return path


def test_cmkp_src_with_ocr_and_attribute_files(tmp_path):
    src = write(tmp_path / "valid_src.txt", SRC)
    ocr = write(tmp_path / "valid_ocr.txt", ["KIDS Choice Awards 2019!", "", "x", ""])
    attribute = write(tmp_path / "valid_attribute.txt", ["people woman", "man", "a", "dog"])
    errors = ErrorLog()
    posts = read_cmkp(src, errors, ocr=ocr, attribute=attribute)
    assert [p.id for p in posts] == ["valid_src-1", "valid_src-2", "valid_src-4"]
    assert [p.keyphrases for p in posts] == [["kca"], ["save hakeem", "football"], ["kp"]]
    assert [p.ocr for p in posts] == ["kids choice awards <number> !", "", ""]
    assert posts[0].image == "https://pbs.twimg.com/media/a.jpg"
    assert posts[2].extra == {"attributes": ["dog"]}
    assert [str(e) for e in errors.errors] == [
        f"{src}:3: expected 'POST<sep>KEYPHRASES<sep>IMAGE', found 2 fields"
    ]


def test_cmkp_split_layout_with_trg_and_bad_side_lines(tmp_path):
    src = write(tmp_path / "t_src.txt", ["first post<sep>a.jpg", "second post", "third post"])
    trg = write(tmp_path / "t_trg.txt", ["kp one;kp two"], tail=b"caf\xe9\nthird kp\n")
    errors = ErrorLog()
    posts = read_cmkp(src, errors, trg=trg)
    assert [(p.text, p.image, p.keyphrases) for p in posts] == [
        ("first post", "a.jpg", ["kp one", "kp two"]),
        ("third post", None, ["third kp"]),
    ]
    assert [str(e) for e in errors.errors] == [
        f"{trg}:2: not valid UTF-8 (invalid continuation byte at byte 3)"
    ]


def test_trc_rows_images_and_errors(tmp_path):
    csv_path = write(
        tmp_path / "trc.csv", CSV, tail=b'"15","1","caf\xe9","0","0","0","0","0","1"\n'
    )
    images = tmp_path / "images"
    images.mkdir()
    (images / "T11.jpg").write_bytes(b"jpeg")
    errors = ErrorLog()
    data = read_trc(csv_path, images, errors)
    first, second = data.posts
    assert (first.id, first.text, first.image) == (
        "11",
        'rt <user> : " dearly beloved " rip prince',
        str(images / "T11.jpg"),
    )
    assert first.extra["relevant"] == 1 and first.extra["raw_text"].startswith('RT @GMA: "Dearly')
    assert (second.text, second.image, second.extra["relevant"]) == ("just chillin .", None, 0)
    assert data.missing_images == ["12"]
    assert [str(e) for e in errors.errors] == [
        f"{csv_path}:4: column 'image_adds' must be 0 or 1, got '2'",
        f"{csv_path}:5: expected 9 columns, found 4",
        f"{csv_path}:6: not valid UTF-8 (invalid continuation byte at byte 13)",
    ]
    kept = read_trc(csv_path, images, ErrorLog(), drop_missing=True)
    assert [p.id for p in kept.posts] == ["11"] and kept.missing_images == ["12"]
    with pytest.raises(FileNotFoundError, match="no such image folder"):
        read_trc(csv_path, tmp_path / "nope")


def test_shared_trc_file(shared_dir):
    data = read_trc(shared_dir / "data" / "trc" / "textimage-data.csv")
    assert len(data.posts) == 4471
    assert sum(post.extra["relevant"] for post in data.posts) == 1977


def test_load_posts_sniffs_every_format(tmp_path):
    src = write(tmp_path / "x_src.txt", SRC[:2])
    csv_path = write(tmp_path / "x.csv", CSV[:3])
    jsonl = write(tmp_path / "x.txt", ['{"id": 1, "text": "hi"}'])
    assert [sniff(p) for p in (src, csv_path, jsonl)] == ["cmkp", "trc", "jsonl"]
    assert [p.keyphrases for p in load_posts(src)] == [["kca"], ["save hakeem", "football"]]
    assert [p.id for p in load_posts(csv_path)] == ["11", "12"]
    assert load_posts(jsonl)[0].text == "hi"
    with pytest.raises(ValueError, match="cannot tell the format"):
        load_posts(write(tmp_path / "odd.txt", ["a<sep>b"]))


def run_convert(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    convert.register(parser.add_subparsers())
    args = parser.parse_args(["convert", *argv])
    return args.run(args)


def test_convert_cli_counts_and_round_trip(tmp_path, capsys):
    src = write(tmp_path / "c_src.txt", SRC)
    out = tmp_path / "c.jsonl"
    assert run_convert(str(src), str(out), "--from", "cmkp") == 0
    printed = capsys.readouterr()
    assert f"read 3 posts from {src}; skipped 1 bad lines" in printed.out
    assert f"wrote 3 posts to {out} (jsonl)" in printed.out
    assert f"{src}:3: expected" in printed.err
    assert run_convert(str(out), str(tmp_path / "c_ocr_kw.txt"), "--to", "ocr_kw") == 0
    assert [p.keyphrases for p in load_posts(tmp_path / "c_ocr_kw.txt")] == [
        p.keyphrases for p in read_posts(out)
    ]
    with pytest.raises(ValueError, match="--trg cannot be used with jsonl input"):
        run_convert(str(out), str(tmp_path / "z.jsonl"), "--trg", str(src))


def test_sniff_looks_past_a_malformed_first_line(tmp_path):
    path = write(tmp_path / "m.txt", ["broken<sep>line<sep>x<sep>y", *SRC[:1]])
    assert sniff(path) == "cmkp"
    errors = ErrorLog()
    assert [p.keyphrases for p in load_posts(path, errors)] == [["kca"]]
    assert [e.line for e in errors.errors] == [1]
