"""Raw tweet -> the benchmark's pre-tokenised form, so typed text looks like training text.

The CMKP/MM-MKP posts were preprocessed with an ekphrasis-style social tokenizer; the rules
below reproduce what field 0 of the benchmark files shows (see docs/data.md for the evidence):

- HTML entities decoded, text folded to ASCII (accents dropped, emoji and other symbols
  removed: the benchmark posts contain no non-ASCII character), then lowercased.
- URLs, e-mails, @mentions, money, percentages, phone numbers, times, dates and standalone
  numbers become `<url>` `<email>` `<user>` `<money>` `<percent>` `<phone>` `<time>` `<date>`
  `<number>`; emoticons become `<happy>` `<laugh>` `<sad>` `<wink>` `<tong>` `<surprise>`
  `<heart>`.
- `*word*` becomes `word <emphasis>`; a word masked with `*` is kept and tagged `<censored>`.
- Unambiguous English contractions are unpacked (`don't` -> `do not`, `i'm` -> `i am`); the
  rest keep their apostrophe as a token (`it's` -> `it ' s`, `wasn't` -> `wasn ' t`).
- Hashtags lose `#` and are split at case and digit changes (`#SaveHakeem` -> `save hakeem`);
  a `#` before a number stays (`#1` -> `# <number>`). Hashtags are kept in the text: the
  benchmark removed only the trailing hashtags that were its gold keyphrases, and
  `trailing_hashtags` returns those for building training data from raw tweets.
- Runs of `!?.` collapse to their distinct characters (`!!!` -> `!`, `?!?!` -> `? !`); every
  other punctuation character is its own token; leading digits of a word are split off one
  by one (`21st` -> `2 1 st`, as in the benchmark).
"""

from __future__ import annotations

import html
import re
import unicodedata

_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2026": "..."}
)

_MONTH = (
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b\.?"
)
_NUM = r"\d+(?:[.,]\d+)*"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_FREE = r"(?<![\w.])"  # not glued to a word or a decimal point before
# Ordered: the first alternative that matches at a position wins (url before user, etc.).
_PLACEHOLDERS = [
    ("url", r"(?:https?://|www\.)\S+"),
    ("email", r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    ("user", r"(?<!\w)@\w+"),
    ("money", rf"[$\u00a3\u20ac]\s?{_NUM}(?:\s?[kmb]\b)?"),
    ("percent", rf"{_FREE}{_NUM}\s?%"),
    ("phone", r"(?<!\w)(?:\+?\d{1,3}[\s.-])?\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\w)"),
    (
        "time",
        rf"{_FREE}\d{{1,2}}(?::\d{{2}}){{1,2}}(?:\s?[ap]\.?m\b\.?)?|{_FREE}\d{{1,2}}\s?[ap]\.?m\b\.?",
    ),
    (
        "date",
        rf"{_FREE}\d{{1,4}}[/.-]\d{{1,2}}[/.-]\d{{1,4}}(?!\w)|{_FREE}{_DAY}\s{_MONTH}"
        rf"|{_MONTH}\s{_DAY}(?:,?\s\d{{4}})?(?!\w)",
    ),
    ("number", rf"{_FREE}{_NUM}(?!\w)"),
]
_PLACEHOLDER = re.compile("|".join(f"(?P<{name}>{rx})" for name, rx in _PLACEHOLDERS), re.I)

_EMOTICONS = {
    "happy": r":-?\)+|=\)+|\(-?:|:\]|\^_?\^",
    "laugh": r"[:=]-?D+|[xX]D+",
    "sad": r":'?-?\(+|=\(+|\)-?:",
    "wink": r";-?\)+|;-?D",
    "tong": r"[:;]-?[pP]\b",
    "surprise": r":-?[oO]\b",
    "heart": r"<3+",
}
_EMOTICON = re.compile(
    "|".join(f"(?P<{name}>(?<!\\S)(?:{rx})(?!\\S))" for name, rx in _EMOTICONS.items())
)

# ekphrasis' (from textacy) contraction rules; "'s" and "'d" are ambiguous and stay.
_CONTRACTIONS = [
    (r"\b(are|could|did|does|do|had|has|have|is|might|must|should|were|would)n't", r"\1 not"),
    (r"\b(he|i|she|they|we|what|who|you)'ll", r"\1 will"),
    (r"\b(they|we|what|who|you)'re", r"\1 are"),
    (r"\b(i|should|they|we|what|who|would|you)'ve", r"\1 have"),
    (r"\b(ca)n't", r"\1n not"),
    (r"\b(i)'m", r"\1 am"),
    (r"\b(let)'s", r"\1 us"),
    (r"\b(w)on't", r"\1ill not"),
    (r"\b(s)han't", r"\1hall not"),
    (r"\b(y)(?:'all|a'll)", r"\1ou all"),
]
_CONTRACTION_RULES = [(re.compile(rx, re.I), repl) for rx, repl in _CONTRACTIONS]

_HASHTAG = re.compile(r"(?<![\w/#&])#([A-Za-z_]\w*)")
_CAMEL = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z_]+|\d+")
_TRAILING_HASHTAGS = re.compile(r"(?:\s*(?<![\w/#&])#[A-Za-z_]\w*)+\s*$")
_EMPHASIS = re.compile(r"(?<![\w*])\*([A-Za-z]\w*)\*(?![\w*])")
_CENSORED = re.compile(r"\b[A-Za-z]+\*+[A-Za-z]+\b(?!\s*<censored>)")
_REPEATED = re.compile(r"[!?.]{2,}")
_TAGS = "|".join([name for name, _ in _PLACEHOLDERS] + [*_EMOTICONS, "emphasis", "censored"])
_TOKEN = re.compile(rf"<(?:{_TAGS})>|[a-z0-9_]+(?:\*+[a-z0-9_]+)*|\S")
_LEADING_DIGITS = re.compile(r"(\d+)([a-z_].*)")


def fold_ascii(text: str) -> str:
    """Decode HTML entities, straighten quotes, drop accents, emoji and other non-ASCII."""
    text = unicodedata.normalize("NFKD", html.unescape(text).translate(_QUOTES))
    return "".join(c if c.isascii() else " " for c in text if not unicodedata.combining(c))


def _split_hashtag(match: re.Match[str]) -> str:
    return " " + " ".join(_CAMEL.findall(match.group(1))) + " "


def _placeholder(match: re.Match[str]) -> str:
    return f" <{match.lastgroup}> "


def _tokens(text: str) -> list[str]:
    tokens = []
    for token in _TOKEN.findall(text):
        leading = _LEADING_DIGITS.fullmatch(token)
        tokens += [*leading.group(1), leading.group(2)] if leading else [token]
    return tokens


def normalise(text: str) -> str:
    """A raw post in the benchmark's conventions: lowercased tokens joined by single spaces."""
    text = fold_ascii(text)
    text = _EMOTICON.sub(_placeholder, text)
    text = _EMPHASIS.sub(r"\1 <emphasis>", text)
    text = _CENSORED.sub(r"\g<0> <censored>", text)
    for rule, repl in _CONTRACTION_RULES:
        text = rule.sub(repl, text)
    text = _HASHTAG.sub(_split_hashtag, text)
    text = _PLACEHOLDER.sub(_placeholder, text).lower()
    text = _REPEATED.sub(lambda m: " ".join(sorted(set(m.group()), reverse=True)), text)
    return " ".join(_tokens(text))


def trailing_hashtags(text: str) -> tuple[str, list[str]]:
    """Split the hashtags ending a raw post off: (the rest, each hashtag normalised).

    This is how the benchmark was built: trailing hashtags are the gold keyphrases and are
    removed from the post; hashtags inside the sentence stay as (present) words.
    """
    match = _TRAILING_HASHTAGS.search(text)
    if match is None:
        return text, []
    tags = re.findall(r"#\w+", match.group())
    return text[: match.start()], [normalise(tag) for tag in tags]
