"""Batched beam search over a `StepModel` (B examples x K beams = N rows, one `step` call
per token).

Each step scores all K*V continuations of an example's K live hypotheses and keeps the best
K in one `topk` over the flattened (K*V) axis, for all examples at once. A continuation that
is `<eos>` is finished: it is collected and its slot dies (score -inf), so the next step
refills the K slots from the remaining live hypotheses. An example is done once it has
collected K finished hypotheses (fairseq's stopping rule) or when it has no live hypothesis
left; its rows are then dropped from the state with `reorder`, so examples that finish early
cost nothing afterwards. The search ends when every example is done or after `max_len` tokens.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mmkp.decoding.protocol import DecoderState, StepModel, SupportScores
from mmkp.decoding.strategy import NEG_INF, Collector, DecodeStrategy, Hypothesis, extend


class BeamSearch(DecodeStrategy):
    def __init__(
        self,
        beam_size: int,
        *,
        max_len: int,
        bos_id: int,
        eos_id: int,
        blocked_ids: Sequence[int] = (),
        penalty: str = "average",
        block_repeats: bool = False,
        repeatable_ids: Sequence[int] = (),
        separator: int | None = None,
    ):
        super().__init__(
            max_len=max_len,
            bos_id=bos_id,
            eos_id=eos_id,
            blocked_ids=blocked_ids,
            penalty=penalty,
            block_repeats=block_repeats,
            repeatable_ids=repeatable_ids,
            separator=separator,
        )
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        self.beam_size = beam_size

    def search(
        self,
        model: StepModel,
        state: DecoderState,
        batch_size: int,
        device: torch.device | str = "cpu",
    ) -> list[list[Hypothesis]]:
        k = self.beam_size
        collector = Collector(batch_size, self.penalty)
        active = torch.arange(batch_size, device=device)  # (b,) example of each group of K rows
        found = torch.zeros(batch_size, dtype=torch.long, device=device)  # finished per example
        # K rows per example; a state that can hold them as one source each (DecoderState's
        # expand) keeps the source once and lets the model decode the K alike rows once
        expand = getattr(state, "expand", None)
        state = expand(k) if expand is not None else state.reorder(active.repeat_interleave(k))
        # Only the first beam is live at the start, so the first step's K best are distinct.
        scores = torch.full((batch_size, k), NEG_INF, device=device)  # (b, K) summed log-probs
        scores[:, 0] = 0.0
        tokens = self.start_tokens(batch_size * k, device)  # (b*K,)
        history = torch.zeros(batch_size * k, 0, dtype=torch.long, device=device)  # (b*K, t)
        attention_history = torch.zeros(batch_size * k, 0, device=device)  # (b*K, t, L)

        for step in range(self.max_len):
            log_probs, attention, state = model.step(tokens, state)  # (b*K, V), (b*K, L)
            b = scores.size(0)
            candidates, support = self.candidates(log_probs, scores.view(-1), step, history)
            width = candidates.size(1)  # V, or S on the support
            scores, flat = candidates.view(b, k * width).topk(k, dim=1)  # (b, K)
            origin = torch.arange(b, device=device)[:, None] * k + flat // width  # (b, K)
            rows = origin.view(-1)  # (b*K,) the row each new hypothesis extends
            tokens = (flat % width).view(-1)
            if support is not None:  # columns of the support -> extended ids
                tokens = support.tokens(rows, tokens)
            history = extend(history, tokens, rows)
            attention_history = extend(attention_history, attention[rows].float(), rows)
            examples = active.repeat_interleave(k)  # (b*K,)

            ended = (tokens.view(b, k) == self.eos_id) & torch.isfinite(scores)  # (b, K)
            flat_ended = ended.view(-1)
            collector.add(
                examples[flat_ended],
                history[flat_ended, :-1],
                attention_history[flat_ended, :-1],
                scores[ended],
                finished=True,
            )
            scores = scores.masked_fill(ended, NEG_INF)
            found[active] += ended.sum(dim=1)
            done = (found[active] >= k) | ~torch.isfinite(scores).any(dim=1)  # (b,)
            keep = ~done
            keep_rows = keep.repeat_interleave(k)  # (b*K,)

            if step == self.max_len - 1:
                collector.add(
                    examples[keep_rows],
                    history[keep_rows],
                    attention_history[keep_rows],
                    scores.view(-1)[keep_rows],
                    finished=False,
                )
                break
            if done.all():
                break
            # One reorder both follows the beams' back-pointers and drops finished examples.
            state = state.reorder(rows[keep_rows])
            tokens, history = tokens[keep_rows], history[keep_rows]
            attention_history = attention_history[keep_rows]
            scores, active = scores[keep], active[keep]
        return collector.ranked()

    def candidates(
        self,
        log_probs: torch.Tensor | SupportScores,
        scores: torch.Tensor,
        step: int,
        history: torch.Tensor,
    ) -> tuple[torch.Tensor, SupportScores | None]:
        """A step's log-probs plus each row's summed score, scores (N,), blocked and repeated
        ids at -inf: (N, S) on the step's support with that support when the K best there
        are the K best of the full width (`selects_exactly`), else (N, V) and None. Summed in
        place: the strategy owns the step's output (a fresh buffer costs page faults)."""
        if not isinstance(log_probs, torch.Tensor):
            current = self.repeats(history)
            blocked = self.blocked(step).to(scores.device)
            reserved = blocked.numel() + (0 if current is None else history.size(1))
            if not selects_exactly(log_probs, self.beam_size, reserved):
                log_probs = log_probs.dense()
            else:
                summed = log_probs.values.float().add_(scores.view(-1, 1))  # (N, S)
                # blocked ids: looked up once per support row, set in each of its rows
                if blocked.numel() > 0:
                    supports = log_probs.ids.size(0)
                    columns = log_probs.columns(blocked.expand(supports, -1).contiguous())
                    group, at = (columns >= 0).nonzero(as_tuple=True)  # -1: not held
                    log_probs.grouped(summed)[group, :, columns[group, at]] = NEG_INF
                if current is not None:  # -1: an id no support holds
                    columns = log_probs.columns(history.masked_fill(~current, -1))  # (N, t)
                    rows, at = (columns >= 0).nonzero(as_tuple=True)
                    summed[rows, columns[rows, at]] = NEG_INF
                return summed, log_probs
        summed = self.mask(log_probs.float().add_(scores.view(-1, 1)), step)  # (N, V)
        return self.mask_repeats(summed, history), None


def selects_exactly(log_probs: SupportScores, beam: int, reserved: int) -> bool:
    """Whether the `beam` best of each example's K rows over the support are the K best over
    the full width, in the same order (values and extended ids), when at most `reserved`
    ids of a row are set to -inf.

    CPU `topk` (K << its width) keeps a heap of the K best seen, scanning in order, and lets
    an entry in only when it beats the heap's worst strictly; the heap's shape depends only
    on the values let in. An id off the support has value floor + score of its row, which no
    support entry of a live row at or before it falls below, and live rows come in
    descending score. So when each support row holds at least K + `reserved` ids 0, 1, ...
    before its first gap, the heap holds K such entries before any off-support id is met:
    no off-support id ever gets in, and scanning without them lets in the very same values
    in the same order. The support's columns ascend like the full width's, its pad columns
    (value floor) come last, and both widths take the heap path (width >= 64)."""
    ids = log_probs.ids  # (R, S)
    if ids.size(1) < 64:
        return False
    prefix = (ids == torch.arange(ids.size(1), device=ids.device)).sum(1)  # (R,)
    return bool((prefix >= beam + reserved).all())
