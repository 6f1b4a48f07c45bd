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

from mmkp.decoding.protocol import DecoderState, StepModel
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
            b, vocab = scores.size(0), log_probs.size(1)
            # summed in place: the strategy owns the step's output (a fresh (b*K, V) buffer
            # costs page faults)
            candidates = self.mask(log_probs.float().add_(scores.view(-1, 1)), step)  # (b*K, V)
            candidates = self.mask_repeats(candidates, history)
            scores, flat = candidates.view(b, k * vocab).topk(k, dim=1)  # (b, K)
            origin = torch.arange(b, device=device)[:, None] * k + flat // vocab  # (b, K)
            rows = origin.view(-1)  # (b*K,) the row each new hypothesis extends
            tokens = (flat % vocab).view(-1)
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
