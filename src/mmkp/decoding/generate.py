"""Batch -> ranked keyphrase strings: encode once, search, turn ids into words.

Ids become words in three ways: a vocabulary id is its word; an extended id
`len(vocab) + k` (a copied out-of-vocabulary source word) is the row's `oov_words[k]`; and
`<unk>` is replaced by the source word the decoder attended to most when it produced that
token (the usual fix for generated `<unk>`, as in the public CopyRNN-style code). Keyphrases
equal after joining their words are merged, keeping the better one, and the `top_k` best
distinct ones are returned; with `max_score_gap` set, only those whose score is within that
gap of the best one's (a confidence cut-off: a post gets fewer, surer keyphrases).

Two optional hooks let a generator emit several keyphrases per sequence or search itself
(docs/architecture.md, "The model family"): `keyphrase_separator` (an id; One2Seq's `<seg>`)
makes the search allow that id, with room for `top_k` keyphrases of `max_len` tokens, and
splits every sequence there, in generation order; `search_keyphrases(batch, encoded,
max_len=, blocked_ids=)` replaces the search (One2Set's parallel slots) and returns each
row's keyphrase sequences, best first (`mmkp.decoding.protocol.ScoredSequence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch

from mmkp.data.batch import Batch
from mmkp.data.vocab import BOS_ID, EOS_ID, PAD_ID, SEG_ID, SPECIALS, UNK, UNK_ID, Vocab
from mmkp.decoding.beam_search import BeamSearch
from mmkp.decoding.config import DecodeConfig
from mmkp.decoding.greedy import GreedySearch
from mmkp.decoding.protocol import KeyphraseGenerator, ScoredSequence
from mmkp.decoding.strategy import DecodeStrategy, Hypothesis

# Never generated: they are not words (<unk> is, and is replaced afterwards).
BLOCKED_IDS = (PAD_ID, BOS_ID, SEG_ID)
STRATEGIES = ("beam", "greedy")


@dataclass(frozen=True)
class ScoredKeyphrase:
    text: str  # words joined by single spaces
    score: float  # length-normalised log-probability (see mmkp.decoding.penalties)


def nonword_ids(vocab: Vocab) -> tuple[int, ...]:
    """Vocabulary ids that cannot be part of a hashtag: punctuation and the tokenizer's
    placeholders (`<number>`, `<url>`, ...). The benchmark's keyphrases are hashtags, whose
    words are letters and digits only (every gold word of the training split is)."""
    words = vocab.words
    return tuple(i for i in range(len(SPECIALS), len(words)) if not words[i].isalnum())


def make_strategy(
    decode: DecodeConfig, blocked_ids: Sequence[int] = BLOCKED_IDS, separator: int | None = None
) -> DecodeStrategy:
    """The search `decode.strategy` with the vocabulary's special ids and `blocked_ids`;
    `separator` (One2Seq's `<seg>`) starts a new keyphrase for `decode.block_repeats`, which
    never blocks `<unk>` (it becomes whichever source word is attended to)."""
    common: dict[str, Any] = dict(
        max_len=decode.max_len,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        blocked_ids=blocked_ids,
        penalty=decode.penalty,
        block_repeats=decode.block_repeats,
        repeatable_ids=(UNK_ID,),
        separator=separator,
    )
    if decode.strategy == "beam":
        return BeamSearch(decode.beam_size, **common)
    if decode.strategy == "greedy":
        return GreedySearch(**common)
    raise ValueError(
        f"unknown decoding strategy {decode.strategy!r}; known: {', '.join(STRATEGIES)}"
    )


@torch.no_grad()
def generate_keyphrases(
    model: KeyphraseGenerator,
    batch: Batch,
    vocab: Vocab,
    decode: DecodeConfig,
    *,
    encoded: Any = None,
) -> list[list[ScoredKeyphrase]]:
    """The `decode.top_k` best distinct keyphrases for every row of `batch`, best first.

    Put the model in eval mode first (dropout would make the search random). Pass `encoded`
    when `model.encode(batch)` was already computed (e.g. for its diagnostics).
    `decode.words_only` blocks punctuation and placeholders (`nonword_ids`), which no hashtag
    contains; `decode.max_score_gap` drops keyphrases scored more than that below the row's
    best (None keeps `top_k`).
    """
    blocked = BLOCKED_IDS + (nonword_ids(vocab) if decode.words_only else ())
    if encoded is None:
        encoded = model.encode(batch)
    hypotheses = search_sequences(model, batch, encoded, decode, blocked)
    return [
        to_keyphrases(
            hyps,
            source_words(batch, row, vocab, words_only=decode.words_only),
            batch.oov_words[row],
            vocab,
            decode.top_k,
            decode.max_score_gap,
        )
        for row, hyps in enumerate(hypotheses)
    ]


def search_sequences(
    model: KeyphraseGenerator,
    batch: Batch,
    encoded: Any,
    decode: DecodeConfig,
    blocked: Sequence[int],
) -> Sequence[Sequence[ScoredSequence]]:
    """Each row's ranked sequences of one keyphrase each, through the model's own search
    (`search_keyphrases`), a joined sequence split at `keyphrase_separator`, or the search
    `decode.strategy` of one keyphrase per sequence."""
    own = getattr(model, "search_keyphrases", None)
    if own is not None:
        return own(batch, encoded, max_len=decode.max_len, blocked_ids=tuple(blocked))
    separator = getattr(model, "keyphrase_separator", None)
    if separator is not None:  # room for top_k keyphrases of max_len tokens (<seg>/<eos> incl.)
        decode = replace(decode, max_len=decode.max_len * decode.top_k)
        blocked = tuple(i for i in blocked if i != separator)
    search = make_strategy(decode, blocked, separator)
    state = model.init_decoder_state(batch, encoded)
    rows = search.search(model, state, batch.size, device=batch.src_ids.device)
    if separator is None:
        return rows
    return [[part for hyp in row for part in split_at(hyp, separator)] for row in rows]


def split_at(hypothesis: Hypothesis, separator: int) -> list[Hypothesis]:
    """The keyphrases of a joined sequence, in order, each with its own attention rows and
    the sequence's score; empty parts (two separators in a row) are dropped."""
    parts, start = [], 0
    tokens = hypothesis.tokens
    for end in [i for i, token in enumerate(tokens) if token == separator] + [len(tokens)]:
        if end > start:
            part = replace(hypothesis, tokens=tokens[start:end])
            parts.append(replace(part, attention=hypothesis.attention[start:end]))
        start = end + 1
    return parts


def source_words(
    batch: Batch, row: int, vocab: Vocab, *, words_only: bool = True
) -> list[str | None]:
    """The words of one row's source, position by position; None where a position cannot
    stand in for `<unk>`: padding, special tokens such as `<seg>`, and (`words_only`)
    punctuation and placeholders."""
    words: list[str | None] = []
    oov = batch.oov_words[row]
    for ext_id, real in zip(
        batch.src_ext_ids[row].tolist(), batch.src_mask[row].tolist(), strict=True
    ):
        word = vocab.decode([ext_id], oov)[0] if real and ext_id >= len(SPECIALS) else None
        words.append(None if word is None or (words_only and not word.isalnum()) else word)
    return words


def keyphrase_text(
    hypothesis: ScoredSequence, source: Sequence[str | None], oov_words: Sequence[str], vocab: Vocab
) -> str:
    """A hypothesis' words joined by spaces, `<unk>` replaced by the most attended source
    word (kept as `<unk>` if the source has no word to offer)."""
    size = len(vocab)
    words = []
    for step, token in enumerate(hypothesis.tokens):
        if token == UNK_ID:
            words.append(_most_attended(hypothesis.attention[step], source))
        elif token < size:
            words.append(vocab.word(token))
        elif token - size < len(oov_words):
            words.append(oov_words[token - size])
        else:
            raise ValueError(
                f"decoded extended id {token} but the row has only {len(oov_words)} source "
                f"OOV words (ids {size}..{size + len(oov_words) - 1}): the model put "
                "probability on another row's copy slots"
            )
    return " ".join(words)


def _most_attended(attention: torch.Tensor, source: Sequence[str | None]) -> str:
    """attention (L,) -> the source word with the highest weight, among real words."""
    usable = torch.tensor([word is not None for word in source], device=attention.device)
    if not usable.any():
        return UNK
    position = int(attention[: len(source)].masked_fill(~usable, float("-inf")).argmax())
    word = source[position]
    assert word is not None
    return word


def to_keyphrases(
    hypotheses: Sequence[ScoredSequence],
    source: Sequence[str | None],
    oov_words: Sequence[str],
    vocab: Vocab,
    top_k: int,
    max_score_gap: float | None = None,
) -> list[ScoredKeyphrase]:
    """Ranked hypotheses -> the `top_k` best distinct keyphrase strings (first one kept),
    without those scored more than `max_score_gap` below the best (None: no cut-off)."""
    keyphrases: dict[str, ScoredKeyphrase] = {}
    for hypothesis in hypotheses:
        text = keyphrase_text(hypothesis, source, oov_words, vocab)
        if text and text not in keyphrases:
            keyphrases[text] = ScoredKeyphrase(text=text, score=hypothesis.score)
            if len(keyphrases) == top_k:
                break
    return within_gap(list(keyphrases.values()), max_score_gap)


def within_gap(
    ranked: Sequence[ScoredKeyphrase], max_score_gap: float | None
) -> list[ScoredKeyphrase]:
    """The keyphrases of a best-first list scored at most `max_score_gap` below the first
    (the confidence cut-off; None keeps them all)."""
    if max_score_gap is None or not ranked:
        return list(ranked)
    return [kp for kp in ranked if kp.score >= ranked[0].score - max_score_gap]
