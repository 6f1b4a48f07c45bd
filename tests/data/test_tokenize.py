import pytest

from mmkp.data.formats.ocr_kw import read_ocr_kw
from mmkp.data.tokenize import normalise, trailing_hashtags


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "So excited to see these two at #KCA tomorrow!!! \U0001f60d https://t.co/K86xqfc3g3",
            "so excited to see these two at kca tomorrow ! <url>",
        ),
        (
            "RT @eRewardsUS: Happy Flag Day! I'm SO happy :) &amp; it's 50% off, only $5.99",
            "rt <user> : happy flag day ! i am so happy <happy> & it ' s <percent> off , "
            "only <money>",
        ),
        (
            "Don't you think it wasn't *that* bad?!?! The 21st time, f*ck...",
            "do not you think it wasn ' t that <emphasis> bad ? ! the 2 1 st time , "
            "f*ck <censored> .",
        ),
        (
            "Call 555-123-4567 at 7pm or 10:30 on 12/25/2019, mail me@x.com :(",
            "call <phone> at <time> or <time> on <date> , mail <email> <sad>",
        ),
        (
            "Caf\u00e9 in S\u00e3o Paulo on March 5th #SaveHakeem #NBA2K19 #1 co-convenors :D",
            "cafe in sao paulo on <date> save hakeem nba <number> k <number> # <number> "
            "co - convenors <laugh>",
        ),
        (
            "He scored 1,000 points in 3.5 years; no. 5 seed \u2026 \u201cwow\u201d ;) <3",
            'he scored <number> points in <number> years ; no . <number> seed . " wow " '
            "<wink> <heart>",
        ),
        ("  ", ""),
    ],
)
def test_normalise_raw_tweets(raw, expected):
    assert normalise(raw) == expected


def test_trailing_hashtags_are_split_off_and_inline_ones_kept():
    text, tags = trailing_hashtags("Great day at the #beach with Ana #SummerVibes  #sun ")
    assert text == "Great day at the #beach with Ana"
    assert tags == ["summer vibes", "sun"]
    assert normalise(text) == "great day at the beach with ana"
    assert trailing_hashtags("no tags here") == ("no tags here", [])


def test_benchmark_posts_are_mostly_fixed_points(shared_dir):
    """Already-normalised benchmark posts stay as they are: a typed post looks like them.

    Measured: 4,982 of 5,370 unchanged; the rest are the benchmark's split digits
    (`2 1 st`), which normalise maps to `<number>`.
    """
    posts = read_ocr_kw(shared_dir / "data" / "cmkp" / "valid_ocr_kw.txt")
    unchanged = sum(normalise(post.text) == post.text for post in posts)
    assert unchanged == 4982
